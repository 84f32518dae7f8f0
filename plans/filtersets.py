"""FilterSets of the dashboard tables and of the API lists: one query string for both.

The web pages filter goals, KPIs and milestones by focus area, owner team and status
(``?focus_area=3&owner_team=2&status=at_risk``); pass the plan so the focus-area and team choices are
the plan's own. The status filter reads the ``as_of_status`` annotation when the queryset carries one
(dashboard selectors at a past date read statuses from snapshots), and the stored ``status`` otherwise,
so a plain queryset works too.

The API's ``*SyncFilterSet`` classes add what a client that syncs needs: every list filters by
``updated_since`` (``SyncFilterMixin``), tracked items by ``source`` and ``external_id``
(``ExternalRefFilterMixin``), and by plan, goal and date ranges. Over goals, KPIs and milestones they
extend the web filtersets, so the API reads the dashboards' query string too.
"""

import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from . import selectors
from .choices import DefinitionItemType, MeasurementSource, MilestoneState, Status, UnitLevel
from .models import (
    KPI,
    DefinitionChange,
    FocusArea,
    Goal,
    Measurement,
    Milestone,
    MilestoneUpdate,
    Plan,
    ReportingUnit,
    Team,
    Tombstone,
)
from .models.base import MAX_ID


class BoundedModelChoiceField(django_filters.fields.ModelChoiceField):
    """Refuses ids that cannot be a primary key before querying (SQLite overflows on huge integers)."""

    def to_python(self, value):
        text = str(value)  # isascii: isdigit() also takes digits such as "³" that int() refuses
        if value not in self.empty_values and (not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


@extend_schema_field(OpenApiTypes.INT)  # the API documents these as ids
class ItemChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = BoundedModelChoiceField


class ItemFilterSet(django_filters.FilterSet):
    """Base of the goal, KPI and milestone filters; subclasses name the path to the focus area."""

    focus_area_path = "goal__focus_area"

    focus_area = ItemChoiceFilter(
        label=_("Focus area"), queryset=FocusArea.objects.none(), method="filter_focus_area", empty_label=_("All")
    )
    owner_team = ItemChoiceFilter(
        label=_("Owner team"), queryset=Team.objects.none(), field_name="owner_team", empty_label=_("All")
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Status.choices, method="filter_status", empty_label=_("All")
    )

    def __init__(self, data=None, queryset=None, *, plan=None, **kwargs):
        super().__init__(data, queryset, **kwargs)
        if plan is not None:
            # Without the explanations: only the choices' labels are shown (a page's largest column otherwise).
            areas = FocusArea.objects.filter(plan=plan).defer("explanation").order_by("order", "code")
            self.filters["focus_area"].queryset = areas
            self.filters["owner_team"].queryset = selectors.plan_owner_team_list(plan_id=plan.pk)
        else:
            self.filters["focus_area"].queryset = FocusArea.objects.all()
            self.filters["owner_team"].queryset = Team.objects.all()

    def filter_focus_area(self, queryset, name, value):
        return queryset.filter(**{self.focus_area_path: value}) if value else queryset

    def filter_status(self, queryset, name, value):
        if not value:
            return queryset
        field = "as_of_status" if "as_of_status" in queryset.query.annotations else "status"
        return queryset.filter(**{field: value})

    @property
    def active(self) -> list[tuple[str, str]]:
        """``[(label, value)]`` of the filters in use, for page headings and export files."""
        if not self.is_bound or not self.form.is_valid():
            return []
        labels = {"focus_area": _("Focus area"), "owner_team": _("Owner team"), "status": _("Status")}
        shown = []
        for name, label in labels.items():
            value = self.form.cleaned_data.get(name)
            if value:
                shown.append((str(label), str(Status(value).label) if name == "status" else str(value)))
        return shown


class GoalFilterSet(ItemFilterSet):
    focus_area_path = "focus_area"

    class Meta:
        model = Goal
        fields = ["focus_area", "owner_team", "status"]


class KPIFilterSet(ItemFilterSet):
    class Meta:
        model = KPI
        fields = ["focus_area", "owner_team", "status"]


class MilestoneFilterSet(ItemFilterSet):
    class Meta:
        model = Milestone
        fields = ["focus_area", "owner_team", "status"]


# The API's lists: the web filtersets above and the sync filters.


class IdFilter(django_filters.NumberFilter):
    """An id, range-checked in the form (huge integers overflow SQLite) rather than in the database."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date and time, converted to UTC here: PostgreSQL rejects offsets beyond ±15:59."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(datetime.UTC)
        except OverflowError as exc:
            raise forms.ValidationError(_("Enter a date and time between the years 1 and 9999.")) from exc


class StrictBooleanField(forms.Field):
    """``true`` or ``false`` (or absent): Django's NullBooleanField reads any other text as "no filter",
    so ``?stale=yes`` would silently list everything; here it is a 400 that names the accepted values."""

    default_error_messages = {"invalid": _("Use true or false.")}
    VALUES = {"true": True, "false": False}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if value not in self.VALUES:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return self.VALUES[value]


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class UpdatedSinceFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


def date_range(field: str, label: str) -> tuple[django_filters.DateFilter, django_filters.DateFilter]:
    return (
        django_filters.DateFilter(
            field_name=field, lookup_expr="gte", label=_("%(field)s on or after") % {"field": label}
        ),
        django_filters.DateFilter(
            field_name=field, lookup_expr="lte", label=_("%(field)s on or before") % {"field": label}
        ),
    )


def item_id_filters(focus_area_path: str) -> tuple[IdFilter, IdFilter]:
    """The API's focus area and owner team filters: ids like its other filters, so an id that names nothing
    gives an empty page (the dashboards' choice filters refuse it, as their forms offer only real choices)."""
    return (
        IdFilter(field_name=focus_area_path, label=_("Focus area")),
        IdFilter(field_name="owner_team", label=_("Owner team")),
    )


# The mixins are FilterSets without a model because django-filter collects declared filters only from
# FilterSet bases; they go first in the bases of the classes that use them.


class SyncFilterMixin(django_filters.FilterSet):
    """``updated_since``, on every API list: the clients that sync ask only for what changed."""

    updated_since = UpdatedSinceFilter(
        field_name="updated_at", lookup_expr="gte", label=_("Changed at or after (ISO 8601 date and time)")
    )


class ExternalRefFilterMixin(SyncFilterMixin):
    """``source`` and ``external_id``, the reference of an item in the system that feeds it."""

    source = django_filters.CharFilter(max_length=64, label=_("Source system"))
    external_id = django_filters.CharFilter(max_length=128, label=_("External id"))


class TeamSyncFilterSet(SyncFilterMixin):
    class Meta:
        model = Team
        fields = ["updated_since"]


class PlanSyncFilterSet(SyncFilterMixin):
    slug = django_filters.CharFilter(max_length=100, label=_("Slug"))
    status = django_filters.ChoiceFilter(choices=Status.choices, label=_("Status"))

    class Meta:
        model = Plan
        fields = ["updated_since", "slug", "status"]


class FocusAreaSyncFilterSet(SyncFilterMixin):
    plan = IdFilter(field_name="plan", label=_("Plan"))
    status = django_filters.ChoiceFilter(choices=Status.choices, label=_("Status"))

    class Meta:
        model = FocusArea
        fields = ["updated_since", "plan", "status"]


# Goals, milestones and KPIs: the dashboards' filters (focus area, owner team, status) and the sync filters.


class GoalSyncFilterSet(ExternalRefFilterMixin, GoalFilterSet):
    plan = IdFilter(field_name="plan", label=_("Plan"))
    focus_area, owner_team = item_id_filters("focus_area")
    due_after, due_before = date_range("due_date", _("Due"))

    class Meta:
        model = Goal
        fields = ["updated_since", "plan", "focus_area", "owner_team", "status", "source", "external_id"]


class MilestoneSyncFilterSet(ExternalRefFilterMixin, MilestoneFilterSet):
    plan = IdFilter(field_name="plan", label=_("Plan"))
    focus_area, owner_team = item_id_filters("goal__focus_area")
    goal = IdFilter(field_name="goal", label=_("Goal"))
    state = django_filters.ChoiceFilter(choices=MilestoneState.choices, label=_("State"))
    due_after, due_before = date_range("due_date", _("Due"))

    class Meta:
        model = Milestone
        fields = ["updated_since", "plan", "focus_area", "goal", "owner_team", "status", "state"]


class KPISyncFilterSet(ExternalRefFilterMixin, KPIFilterSet):
    plan = IdFilter(field_name="plan", label=_("Plan"))
    focus_area, owner_team = item_id_filters("goal__focus_area")
    goal = IdFilter(field_name="goal", label=_("Goal"))
    stale = StrictBooleanFilter(label=_("Stale"))
    target_after, target_before = date_range("target_date", _("Target date"))

    class Meta:
        model = KPI
        fields = ["updated_since", "plan", "focus_area", "goal", "owner_team", "status", "stale"]


class UnitSyncFilterSet(ExternalRefFilterMixin):
    """The reporting-unit register: by level and by parent unit (its code)."""

    level = django_filters.ChoiceFilter(choices=UnitLevel.choices, label=_("Level"))
    parent = django_filters.CharFilter(field_name="parent__code", max_length=32, label=_("Parent unit (code)"))

    class Meta:
        model = ReportingUnit
        fields = ["updated_since", "level", "parent", "source", "external_id"]


class MeasurementSyncFilterSet(SyncFilterMixin):
    kpi = IdFilter(field_name="kpi", label=_("KPI"))
    unit = django_filters.CharFilter(
        field_name="unit__code", max_length=32, label=_("Reporting unit (code); the national figures have none")
    )
    level = django_filters.ChoiceFilter(
        choices=UnitLevel.choices,
        method="filter_level",
        label=_("Level of the reporting unit: nation lists the national figures (reported and derived)"),
    )
    plan = IdFilter(field_name="kpi__plan", label=_("Plan"))
    goal = IdFilter(field_name="kpi__goal", label=_("Goal"))
    owner_team = IdFilter(field_name="kpi__owner_team", label=_("Owner team"))
    source = django_filters.ChoiceFilter(choices=MeasurementSource.choices, label=_("Channel"))
    external_id = django_filters.CharFilter(max_length=128, label=_("External id"))
    date_after, date_before = date_range("date", _("Date"))

    class Meta:
        model = Measurement
        fields = ["updated_since", "kpi", "unit", "level", "plan", "goal", "owner_team", "source", "external_id"]

    def filter_level(self, queryset, name, value):
        if not value:
            return queryset
        # The national figures have no unit (Measurement.unit); a row for the nation's unit is refused on write.
        return queryset.filter(unit__isnull=True) if value == UnitLevel.NATION else queryset.filter(unit__level=value)


class MilestoneUpdateSyncFilterSet(SyncFilterMixin):
    milestone = IdFilter(field_name="milestone", label=_("Milestone"))
    plan = IdFilter(field_name="milestone__plan", label=_("Plan"))
    owner_team = IdFilter(field_name="milestone__owner_team", label=_("Owner team"))

    class Meta:
        model = MilestoneUpdate
        fields = ["updated_since", "milestone", "plan", "owner_team"]


class TombstoneSyncFilterSet(django_filters.FilterSet):
    updated_since = UpdatedSinceFilter(
        field_name="deleted_at", lookup_expr="gte", label=_("Deleted at or after (ISO 8601 date and time)")
    )
    resource = django_filters.CharFilter(max_length=32, label=_("Resource, such as kpis or goals"))
    plan = IdFilter(field_name="plan_id", label=_("Plan"))

    class Meta:
        model = Tombstone
        fields = ["updated_since", "resource", "plan"]


class DefinitionChangeSyncFilterSet(django_filters.FilterSet):
    updated_since = UpdatedSinceFilter(
        field_name="changed_at", lookup_expr="gte", label=_("Changed at or after (ISO 8601 date and time)")
    )
    item_type = django_filters.ChoiceFilter(choices=DefinitionItemType.choices, label=_("Item type"))
    item_id = IdFilter(field_name="item_id", label=_("Item id"))

    class Meta:
        model = DefinitionChange
        fields = ["updated_since", "item_type", "item_id"]
