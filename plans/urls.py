"""Addresses of the web pages: home, My work, the update forms, dashboards and item pages (API: plans.api.urls)."""

from django.urls import path, re_path

from .views import (
    briefing,
    changes,
    completeness,
    dashboard,
    home,
    items,
    manage,
    manage_people,
    notifications,
    plan_files,
    review,
    units,
    work,
    zones,
)

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
    # The reporting-unit register (managers): the tree, the upload and the example file.
    path("units/register/", units.unit_register, name="unit_register"),
    path("units/register/template.csv", units.unit_register_template, name="unit_register_template"),
    # Plan management for managers (plans.views.manage); kind: plan, focus-area, goal, kpi, milestone.
    path("manage/", manage.manage_home, name="manage_home"),
    path("manage/plans/new/", manage.item_create, {"kind": "plan"}, name="manage_plan_create"),
    path("manage/plans/<slug:slug>/", manage.plan_structure, name="manage_plan"),
    path("manage/plans/<slug:slug>/<slug:action>/", manage.plan_lifecycle, name="manage_plan_lifecycle"),
    path("manage/plans/<slug:slug>/new/<slug:kind>/", manage.item_create, name="manage_item_create"),
    path("manage/<slug:kind>/<int:pk>/edit/", manage.item_edit, name="manage_item_edit"),
    path("manage/<slug:kind>/<int:pk>/delete/", manage.item_delete, name="manage_item_delete"),
    path("manage/users/", manage_people.user_list, name="manage_users"),
    path("manage/users/new/", manage_people.user_new, name="manage_user_create"),
    path("manage/users/<int:pk>/active/", manage_people.user_active, name="manage_user_active"),
    path("manage/teams/", manage_people.team_list, name="manage_teams"),
    path("manage/teams/<int:pk>/", manage_people.team_detail, name="manage_team"),
    # Dashboards and item pages; ?as_of=YYYY-MM-DD and the filters travel in the query string.
    path("plans/<slug:slug>/", dashboard.plan_dashboard, name="dashboard"),
    path("plans/<slug:slug>/zones/", zones.plan_zones, name="dashboard_zones"),
    path("plans/<slug:slug>/briefing.pdf", briefing.plan_briefing_pdf, name="briefing_pdf"),
    path("plans/<slug:slug>/review/", review.review_queue, name="review_queue"),
    path("plans/<slug:slug>/review/settings/", review.review_settings, name="review_settings"),
    path("plans/<slug:slug>/focus-areas/<path:code>/", dashboard.focus_area_detail, name="dashboard_focus_area"),
    path("plans/<slug:slug>/goals/<path:code>/", dashboard.goal_detail, name="dashboard_goal"),
    path("plans/<slug:slug>/kpis/<path:code>/", items.kpi_detail, name="dashboard_kpi"),
    path("plans/<slug:slug>/milestones/<int:pk>/", items.milestone_detail, name="dashboard_milestone"),
    # The inside of a table row's "Why?" panel, fetched when it is opened; kind: focus-area, goal, kpi, milestone.
    path("plans/<slug:slug>/why/<slug:kind>/<path:key>/", dashboard.why_fragment, name="dashboard_why"),
    # One of the dashboard's heavy panels (not-reported, trend), fetched once the dashboard is shown.
    path("plans/<slug:slug>/panels/<slug:name>/", dashboard.dashboard_panel, name="dashboard_panel"),
    path("plans/<slug:slug>/completeness/", completeness.completeness_page, name="completeness"),
    path("plans/<slug:slug>/changes/", changes.plan_changes, name="dashboard_changes"),
    re_path(
        r"^plans/(?P<slug>[-\w]+)/completeness\.(?P<fmt>csv|xlsx)$",
        completeness.completeness_export,
        name="completeness_export",
    ),
    re_path(
        r"^plans/(?P<slug>[-\w]+)/export/(?P<table>kpis|milestones)\.(?P<fmt>csv|xlsx)$",
        dashboard.dashboard_export,
        name="dashboard_export",
    ),
    # A KPI's breakdown by province and zone, as on its page (?as_of= and ?sort= kept).
    re_path(
        r"^plans/(?P<slug>[-\w]+)/kpi-zones/(?P<code>[A-Za-z0-9._-]+)\.(?P<fmt>csv|xlsx)$",
        zones.kpi_breakdown_export,
        name="kpi_breakdown_export",
    ),
    # The whole plan as a file (XLSX, YAML), its templates, and the import (managers): upload, preview, apply.
    re_path(r"^plans/(?P<slug>[-\w]+)/export\.(?P<fmt>xlsx|yaml)$", plan_files.plan_export, name="plan_export"),
    re_path(
        r"^plans/(?P<slug>[-\w]+)/import/template\.(?P<fmt>xlsx|yaml)$",
        plan_files.plan_file_template,
        name="plan_file_template",
    ),
    path("plans/<slug:slug>/import/", plan_files.plan_import, name="plan_import"),
    path("plans/<slug:slug>/import/apply/", plan_files.plan_import_apply, name="plan_import_apply"),
    path("zones/", zones.zones_index, name="zones"),
    path("zones/<str:code>/", zones.unit_detail, name="zone"),
]
