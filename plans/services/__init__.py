"""Every write of the domain, by entity. Views, forms, serializers, commands and tasks parse input and call these.

Each service is atomic, validates with ``full_clean()`` before saving, and marks the plan as needing a
recompute (``plan_mark_changed``), which enqueues one after commit. Callers import from here
(``from plans import services``); the modules are an arrangement, not an API.
"""

from ..exceptions import MeasurementRowsInvalid, PeriodLocked, PlanClosed, StaleVersionError, SubmissionRefused
from .access import api_token_create, user_ensure
from .briefings import BriefingsResult, briefings_send
from .goals import goal_create, goal_delete, goal_update
from .housekeeping import housekeeping_run
from .imports import plan_import
from .kpis import (
    MeasurementResult,
    MeasurementRow,
    kpi_create,
    kpi_delete,
    kpi_typical_change,
    kpi_update,
    measurement_check,
    measurement_delete,
    measurement_parts_check,
    measurement_record,
    measurement_update,
    measurements_bulk_upsert,
)
from .lifecycle import plan_activate, plan_close, plan_copy_next_year, plan_create
from .milestones import (
    PROGRESS_FIELDS,
    milestone_create,
    milestone_delete,
    milestone_progress_check,
    milestone_progress_record,
    milestone_update,
)
from .notifications import notification_mark_read, notifications_mark_all_read
from .plan_files import PlanImportPreview, plan_import_apply, plan_import_preview
from .plans import focus_area_delete, plan_delete, plan_mark_changed, plan_open_check, structure_save
from .reminders import reminders_send
from .reporting import (
    REVIEW_SETTINGS,
    ReportingPeriod,
    can_report,
    can_review,
    period_reopen,
    plan_review_settings_update,
    reporting_periods,
    submission_approve,
    submission_return,
    submission_save,
    submission_submit,
    submissions_approve_bulk,
    submissions_approve_recorded,
)
from .teams import team_create, team_delete, team_update
from .units import (
    UnitImportInvalid,
    UnitImportResult,
    UnitValue,
    unit_create,
    unit_delete,
    unit_target_delete,
    unit_target_set,
    unit_update,
    unit_values_load,
    units_import,
    units_read_file,
)
from .users import user_create, user_set_active
from .visits import plan_visit_record

__all__ = [
    "plan_visit_record",
    "REVIEW_SETTINGS",
    "BriefingsResult",
    "briefings_send",
    "PROGRESS_FIELDS",
    "MeasurementResult",
    "MeasurementRow",
    "MeasurementRowsInvalid",
    "PeriodLocked",
    "PlanImportPreview",
    "ReportingPeriod",
    "SubmissionRefused",
    "StaleVersionError",
    "UnitImportInvalid",
    "UnitImportResult",
    "UnitValue",
    "api_token_create",
    "can_report",
    "can_review",
    "period_reopen",
    "plan_review_settings_update",
    "reporting_periods",
    "submission_approve",
    "submission_return",
    "submission_save",
    "submission_submit",
    "submissions_approve_bulk",
    "submissions_approve_recorded",
    "focus_area_delete",
    "goal_create",
    "goal_delete",
    "goal_update",
    "housekeeping_run",
    "kpi_create",
    "kpi_delete",
    "kpi_update",
    "measurement_delete",
    "kpi_typical_change",
    "measurement_check",
    "measurement_parts_check",
    "measurement_record",
    "measurement_update",
    "measurements_bulk_upsert",
    "milestone_create",
    "milestone_delete",
    "milestone_progress_check",
    "notification_mark_read",
    "notifications_mark_all_read",
    "milestone_progress_record",
    "milestone_update",
    "reminders_send",
    "PlanClosed",
    "plan_activate",
    "plan_close",
    "plan_copy_next_year",
    "plan_create",
    "plan_open_check",
    "user_create",
    "user_set_active",
    "plan_delete",
    "plan_import",
    "plan_import_apply",
    "plan_import_preview",
    "plan_mark_changed",
    "structure_save",
    "team_create",
    "team_delete",
    "team_update",
    "unit_create",
    "unit_delete",
    "unit_target_delete",
    "unit_target_set",
    "unit_update",
    "unit_values_load",
    "units_import",
    "units_read_file",
    "user_ensure",
]
