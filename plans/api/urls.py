from rest_framework.routers import DefaultRouter

from . import notifications, reporting, views

app_name = "api"

router = DefaultRouter()
router.include_format_suffixes = False
router.register("plans", views.PlanViewSet, basename="plan")
router.register("focus-areas", views.FocusAreaViewSet, basename="focus-area")
router.register("goals", views.GoalViewSet, basename="goal")
router.register("milestones", views.MilestoneViewSet, basename="milestone")
router.register("kpis", views.KPIViewSet, basename="kpi")
router.register("measurements", views.MeasurementViewSet, basename="measurement")
router.register("milestone-updates", views.MilestoneUpdateViewSet, basename="milestone-update")
router.register("teams", views.TeamViewSet, basename="team")
router.register("units", views.UnitViewSet, basename="unit")
router.register("deletions", views.DeletionViewSet, basename="deletion")
router.register("definition-changes", views.DefinitionChangeViewSet, basename="definition-change")
router.register("submissions", reporting.SubmissionViewSet, basename="submission")
router.register("period-reopenings", reporting.PeriodReopeningViewSet, basename="period-reopening")
router.register("notifications", notifications.NotificationViewSet, basename="notification")

urlpatterns = router.urls
