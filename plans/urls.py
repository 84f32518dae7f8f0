"""Addresses of the web pages: home, My work, the update forms, dashboards and item pages (API: plans.api.urls)."""

from django.urls import path, re_path

from .views import dashboard, home, items, notifications, work

app_name = "plans"

urlpatterns = [
    path("", home.home, name="home"),
    path("my-work/", work.my_work, name="my_work"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", notifications.notification_read, name="notification_read"),
    path("notifications/read-all/", notifications.notification_read_all, name="notification_read_all"),
    path("milestones/<int:pk>/", items.milestone_moved, name="milestone_moved"),
    path("milestones/<int:pk>/update/", work.milestone_update, name="milestone_update"),
    path("kpis/<int:pk>/", items.kpi_moved, name="kpi_moved"),
    path("kpis/<int:pk>/measurements/new/", work.measurement_create, name="measurement_create"),
    # Dashboards and item pages; ?as_of=YYYY-MM-DD and the filters travel in the query string.
    path("plans/<slug:slug>/", dashboard.plan_dashboard, name="dashboard"),
    path("plans/<slug:slug>/focus-areas/<path:code>/", dashboard.focus_area_detail, name="dashboard_focus_area"),
    path("plans/<slug:slug>/goals/<path:code>/", dashboard.goal_detail, name="dashboard_goal"),
    path("plans/<slug:slug>/kpis/<path:code>/", items.kpi_detail, name="dashboard_kpi"),
    path("plans/<slug:slug>/milestones/<int:pk>/", items.milestone_detail, name="dashboard_milestone"),
    re_path(
        r"^plans/(?P<slug>[-\w]+)/export/(?P<table>kpis|milestones)\.(?P<fmt>csv|xlsx)$",
        dashboard.dashboard_export,
        name="dashboard_export",
    ),
]
