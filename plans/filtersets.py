"""FilterSets for the dashboard tables (focus area, owner team, status), shared with the API.

The web pages and the API read the same query string (``?focus_area=3&owner_team=2&status=at_risk``):
plans.api.filters extends these with its sync, external-id and date-range filters. Pass the plan so
the focus-area and team choices are the plan's own. The status filter reads the
``as_of_status`` annotation when the queryset carries one (dashboard selectors at a past date read
statuses from snapshots), and the stored ``status`` otherwise, so a plain queryset works too.
"""

import django_filters
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from . import selectors
from .choices import Status
from .models import KPI, FocusArea, Goal, Milestone, Team
from .models.base import MAX_ID


class BoundedModelChoiceField(django_filters.fields.ModelChoiceField):
    """Refuses ids that cannot be a primary key before querying (SQLite overflows on huge integers)."""

    def to_python(self, value):
        if value not in self.empty_values and (not str(value).isdigit() or not 0 < int(value) <= MAX_ID):
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
            self.filters["focus_area"].queryset = FocusArea.objects.filter(plan=plan).order_by("order", "code")
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
