from django.urls import path, re_path

from . import views, views_dashboard, views_work

app_name = "plans"

urlpatterns = [
    path("", views.home, name="home"),
    path("my-work/", views_work.my_work, name="my_work"),
    path("milestones/<int:pk>/", views_work.milestone_detail, name="milestone_detail"),
    path("milestones/<int:pk>/update/", views_work.milestone_update, name="milestone_update"),
    path("kpis/<int:pk>/", views_work.kpi_detail, name="kpi_detail"),
    path("kpis/<int:pk>/measurements/new/", views_work.measurement_create, name="measurement_create"),
    # Dashboards (plans/views_dashboard.py); ?as_of=YYYY-MM-DD and the filters travel in the query string.
    path("plans/<slug:slug>/", views_dashboard.plan_dashboard, name="dashboard"),
    path("plans/<slug:slug>/focus-areas/<str:code>/", views_dashboard.focus_area_detail, name="dashboard_focus_area"),
    path("plans/<slug:slug>/goals/<str:code>/", views_dashboard.goal_detail, name="dashboard_goal"),
    path("plans/<slug:slug>/kpis/<str:code>/", views_dashboard.kpi_detail, name="dashboard_kpi"),
    path("plans/<slug:slug>/milestones/<int:pk>/", views_dashboard.milestone_detail, name="dashboard_milestone"),
    re_path(
        r"^plans/(?P<slug>[-\w]+)/export/(?P<table>kpis|milestones)\.(?P<fmt>csv|xlsx)$",
        views_dashboard.dashboard_export,
        name="dashboard_export",
    ),
]
