"""The demo plan: the 2025 Action Plan for National High-Tech Zones, with illustrative 2025 data."""

import json
from pathlib import Path

DEMO_PLAN_FILE = Path(__file__).with_name("high_tech_zones_2025.json")
# The example register file of `import_units` and the register page (the demo's own zones).
UNITS_TEMPLATE_FILE = Path(__file__).with_name("units_template.csv")


def demo_plan_data() -> dict:
    return json.loads(DEMO_PLAN_FILE.read_text(encoding="utf-8"))
