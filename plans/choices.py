"""Every enumeration of the project, as Django choices.

``Status``, ``Direction``, ``MilestoneState`` and ``Frequency`` have the same members as the plain
string enums of ``plans.rollup`` (which imports nothing from the project); tests/test_choices.py
keeps the two in step.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


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


class ChangeChannel(models.TextChoices):
    """Where a write came from."""

    WEB = "web", _("Web pages")
    ADMIN = "admin", _("Admin")
    API = "api", _("API")
    IMPORT = "import", _("Import")
