"""Every enumeration of the project, as Django choices.

``Status``, ``Direction``, ``MilestoneState`` and ``Frequency`` have the same members as the plain
string enums of ``plans.rollup`` (which imports nothing from the project); tests/test_choices.py
keeps the two in step.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Status(models.TextChoices):
    ACHIEVED = "achieved", _("Achieved")
    ON_TRACK = "on_track", _("On track")
    AT_RISK = "at_risk", _("At risk")
    OFF_TRACK = "off_track", _("Off track")
    MISSED = "missed", _("Missed")
    OVERDUE = "overdue", _("Overdue")
    COMPLETE = "complete", _("Complete")
    NOT_STARTED = "not_started", _("Not started")
    CANCELLED = "cancelled", _("Cancelled")
    NO_DATA = "no_data", _("No data")


class Direction(models.TextChoices):
    INCREASE = "increase", _("Increase (higher is better)")
    DECREASE = "decrease", _("Decrease (lower is better)")


class MilestoneState(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    BLOCKED = "blocked", _("Blocked")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Frequency(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    ANNUAL = "annual", _("Annual")


class MeasurementSource(models.TextChoices):
    MANUAL = "manual", _("Entered by staff")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    # A national (or provincial) value computed from the reporting units' values by plans.aggregation.
    DERIVED = "derived", _("Derived from the zones")


class UnitLevel(models.TextChoices):
    """The levels of the reporting-unit tree: nation > province (or region) > zone."""

    NATION = "nation", _("Nation")
    PROVINCE = "province", _("Province or region")
    ZONE = "zone", _("Zone")


class Aggregation(models.TextChoices):
    """How a KPI's values of the reporting units make the value of their parent (REPORTING.md)."""

    SUM = "sum", _("Sum of the units' values")
    RATIO = "ratio", _("Ratio of sums (sum of numerators over sum of denominators)")
    MEAN = "mean", _("Mean weighted by a declared weight")
    GROWTH = "growth", _("Growth rate derived from two sums of another KPI")
    NONE = "none", _("Not aggregated: reported for the nation directly")


class NationalSource(models.TextChoices):
    """Which national value counts for the status when both a derived and a directly reported one exist."""

    REPORTED = "reported", _("The directly reported national value wins")
    DERIVED = "derived", _("The value derived from the units wins")


class Counting(models.TextChoices):
    """Which recorded values count toward a plan's statuses (the plan's review setting)."""

    APPROVED = "approved", _("Approved values only")
    SUBMITTED = "submitted", _("Submitted values count, provisionally, until reviewed")
    ALL = "all", _("Every recorded value counts at once (no review)")


class SubmissionState(models.TextChoices):
    """A submission of one KPI's figures for one reporting unit (or the nation) and one period."""

    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned")


class ReminderKind(models.TextChoices):
    BEFORE = "before", _("Due soon")
    DUE = "due", _("Due today")
    OVERDUE = "overdue", _("Overdue")
    ESCALATION = "escalation", _("Overdue: escalated to the reviewers")


class ApiTokenScope(models.TextChoices):
    """``write`` records values and progress, as staff do; ``manage`` also changes definitions, as managers do."""

    READ = "read", _("Read")
    WRITE = "write", _("Read, record values and progress")
    MANAGE = "manage", _("Read, record, and change definitions")


class ItemType(models.TextChoices):
    PLAN = "plan", _("Plan")
    FOCUS_AREA = "focus_area", _("Focus area")
    GOAL = "goal", _("Goal")
    KPI = "kpi", _("KPI")
    MILESTONE = "milestone", _("Milestone")


class DefinitionItemType(models.TextChoices):
    """What a DefinitionChange is about: the items of ItemType, and the teams that own them."""

    PLAN = "plan", _("Plan")
    FOCUS_AREA = "focus_area", _("Focus area")
    GOAL = "goal", _("Goal")
    KPI = "kpi", _("KPI")
    MILESTONE = "milestone", _("Milestone")
    TEAM = "team", _("Team")


class ChangeAction(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    DELETED = "deleted", _("Deleted")


class PlanState(models.TextChoices):
    """A plan's lifecycle: drafted by managers, active while tracked, closed once final (no more writes)."""

    DRAFT = "draft", pgettext_lazy("plan state", "Draft")
    ACTIVE = "active", pgettext_lazy("plan state", "Active")
    CLOSED = "closed", pgettext_lazy("plan state", "Closed")


class ChangeChannel(models.TextChoices):
    """Where a write came from."""

    WEB = "web", _("Web pages")
    ADMIN = "admin", _("Admin")
    API = "api", _("API")
    IMPORT = "import", _("Import")
