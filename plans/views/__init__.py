"""The web pages for staff and managers, one module per area: home, dashboard, items (KPI and milestone pages), work."""
