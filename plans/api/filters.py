"""django-filter filtersets of the API lists; every list filters by ``updated_since`` for incremental sync."""

import datetime

import django_filters as filters
from django import forms
from django.utils.translation import gettext_lazy as _

from plans import filtersets as web
from plans.choices import DefinitionItemType, MeasurementSource, MilestoneState, Status
from plans.models import (
    KPI,
    DefinitionChange,
    FocusArea,
    Goal,
    Measurement,
    Milestone,
    MilestoneUpdate,
    Plan,
    Team,
    Tombstone,
)
from plans.models.base import MAX_ID


class IdFilter(filters.NumberFilter):
    """An id, range-checked in the form (huge integers overflow SQLite) rather than in the database."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class UtcDateTimeField(filters.fields.IsoDateTimeField):
    """An ISO 8601 date and time, converted to UTC here: PostgreSQL rejects offsets beyond ±15:59."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(datetime.UTC)
        except OverflowError as exc:
            raise forms.ValidationError(_("Enter a date and time between the years 1 and 9999.")) from exc


class UpdatedSinceFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


def date_range(field: str, label: str) -> tuple[filters.DateFilter, filters.DateFilter]:
    return (
        filters.DateFilter(field_name=field, lookup_expr="gte", label=_("%(field)s on or after") % {"field": label}),
        filters.DateFilter(field_name=field, lookup_expr="lte", label=_("%(field)s on or before") % {"field": label}),
    )


class SyncFilterSet(filters.FilterSet):
    updated_since = UpdatedSinceFilter(
        field_name="updated_at", lookup_expr="gte", label=_("Changed at or after (ISO 8601 date and time)")
    )


class ExternalRefFilterSet(SyncFilterSet):
    source = filters.CharFilter(max_length=64, label=_("Source system"))
    external_id = filters.CharFilter(max_length=128, label=_("External id"))


class TeamFilterSet(SyncFilterSet):
    class Meta:
        model = Team
        fields = ["updated_since"]


class PlanFilterSet(SyncFilterSet):
    slug = filters.CharFilter(max_length=100, label=_("Slug"))
    status = filters.ChoiceFilter(choices=Status.choices, label=_("Status"))

    class Meta:
        model = Plan
        fields = ["updated_since", "slug", "status"]


class FocusAreaFilterSet(SyncFilterSet):
    plan = IdFilter(field_name="plan", label=_("Plan"))
    status = filters.ChoiceFilter(choices=Status.choices, label=_("Status"))

    class Meta:
        model = FocusArea
        fields = ["updated_since", "plan", "status"]


# Goals, milestones and KPIs: the dashboards' filters (focus area, owner team, status) plus sync filters.


class GoalFilterSet(web.GoalFilterSet, ExternalRefFilterSet):
    plan = IdFilter(field_name="plan", label=_("Plan"))
    due_after, due_before = date_range("due_date", _("Due"))

    class Meta:
        model = Goal
        fields = ["updated_since", "plan", "focus_area", "owner_team", "status", "source", "external_id"]


class MilestoneFilterSet(web.MilestoneFilterSet, ExternalRefFilterSet):
    plan = IdFilter(field_name="plan", label=_("Plan"))
    goal = IdFilter(field_name="goal", label=_("Goal"))
    state = filters.ChoiceFilter(choices=MilestoneState.choices, label=_("State"))
    due_after, due_before = date_range("due_date", _("Due"))

    class Meta:
        model = Milestone
        fields = ["updated_since", "plan", "focus_area", "goal", "owner_team", "status", "state"]


class KPIFilterSet(web.KPIFilterSet, ExternalRefFilterSet):
    plan = IdFilter(field_name="plan", label=_("Plan"))
    goal = IdFilter(field_name="goal", label=_("Goal"))
    stale = filters.BooleanFilter(label=_("Stale"))
    target_after, target_before = date_range("target_date", _("Target date"))

    class Meta:
        model = KPI
        fields = ["updated_since", "plan", "focus_area", "goal", "owner_team", "status", "stale"]


class MeasurementFilterSet(SyncFilterSet):
    kpi = IdFilter(field_name="kpi", label=_("KPI"))
    plan = IdFilter(field_name="kpi__plan", label=_("Plan"))
    goal = IdFilter(field_name="kpi__goal", label=_("Goal"))
    owner_team = IdFilter(field_name="kpi__owner_team", label=_("Owner team"))
    source = filters.ChoiceFilter(choices=MeasurementSource.choices, label=_("Channel"))
    external_id = filters.CharFilter(max_length=128, label=_("External id"))
    date_after, date_before = date_range("date", _("Date"))

    class Meta:
        model = Measurement
        fields = ["updated_since", "kpi", "plan", "goal", "owner_team", "source", "external_id"]


class MilestoneUpdateFilterSet(SyncFilterSet):
    milestone = IdFilter(field_name="milestone", label=_("Milestone"))
    plan = IdFilter(field_name="milestone__plan", label=_("Plan"))
    owner_team = IdFilter(field_name="milestone__owner_team", label=_("Owner team"))

    class Meta:
        model = MilestoneUpdate
        fields = ["updated_since", "milestone", "plan", "owner_team"]


class TombstoneFilterSet(filters.FilterSet):
    updated_since = UpdatedSinceFilter(
        field_name="deleted_at", lookup_expr="gte", label=_("Deleted at or after (ISO 8601 date and time)")
    )
    resource = filters.CharFilter(max_length=32, label=_("Resource, such as kpis or goals"))
    plan = IdFilter(field_name="plan_id", label=_("Plan"))

    class Meta:
        model = Tombstone
        fields = ["updated_since", "resource", "plan"]


class DefinitionChangeFilterSet(filters.FilterSet):
    updated_since = UpdatedSinceFilter(
        field_name="changed_at", lookup_expr="gte", label=_("Changed at or after (ISO 8601 date and time)")
    )
    item_type = filters.ChoiceFilter(choices=DefinitionItemType.choices, label=_("Item type"))
    item_id = IdFilter(field_name="item_id", label=_("Item id"))

    class Meta:
        model = DefinitionChange
        fields = ["updated_since", "item_type", "item_id"]
