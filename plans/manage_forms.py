"""Managers' forms for a plan's structure: plans, focus areas, goals, KPIs and milestones (plans.views.manage).

Each form only parses input: it lists the fields a manager edits and gives them (``values()``) as the ``data`` the
service takes. The model's rules are the service's (``full_clean`` there), so ``_post_clean`` does not run
them a second time; a refused write comes back as the service's ValidationError, shown on its field.
The form carries the item's version: a save based on an older one is refused by the service.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .forms import FiniteFloatField
from .models import KPI, FocusArea, Goal, Milestone, Plan, Team

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DESCRIPTION_WIDGETS = {name: forms.Textarea(attrs={"rows": 3}) for name in ("description", "description_zh")}


class StructureForm(forms.ModelForm):
    """A ModelForm whose save is the service's: ``values()`` gives the cleaned values by field name."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, plan: Plan | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
        for name, field in list(self.fields.items()):
            if isinstance(field, forms.FloatField):
                self.fields[name] = FiniteFloatField(
                    label=field.label, required=field.required, help_text=field.help_text
                )
                self.fields[name].widget.attrs.update({"inputmode": "decimal", "step": "any"})
            elif isinstance(field, forms.DateField):
                field.widget = DATE_WIDGET
                field.input_formats = ["%Y-%m-%d"]
                field.error_messages["invalid"] = _("Enter a date as YYYY-MM-DD.")
        if plan is not None:
            if "focus_area" in self.fields:
                self.fields["focus_area"].queryset = FocusArea.objects.filter(plan=plan)
            if "goal" in self.fields:
                self.fields["goal"].queryset = Goal.objects.filter(plan=plan)
        for name in ("owner_team",):
            if name in self.fields:
                self.fields[name].queryset = Team.objects.order_by("name")

    def _post_clean(self):
        """The model's rules are checked once, by the service."""

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields if name in self.cleaned_data}

    def add_service_error(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)


class PlanForm(StructureForm):
    class Meta:
        model = Plan
        fields = [
            "name",
            "name_zh",
            "slug",
            "description",
            "description_zh",
            "baseline_year",
            "start_date",
            "end_date",
            "counting",
        ]
        widgets = DESCRIPTION_WIDGETS


class FocusAreaForm(StructureForm):
    class Meta:
        model = FocusArea
        fields = ["code", "name", "name_zh", "description", "description_zh", "order", "weight"]
        widgets = DESCRIPTION_WIDGETS


class GoalForm(StructureForm):
    class Meta:
        model = Goal
        fields = [
            "focus_area",
            "code",
            "title",
            "title_zh",
            "description",
            "description_zh",
            "owner_team",
            "weight",
            "start_date",
            "due_date",
        ]
        widgets = DESCRIPTION_WIDGETS


class KPIForm(StructureForm):
    class Meta:
        model = KPI
        fields = [
            "goal",
            "code",
            "name",
            "name_zh",
            "unit",
            "unit_zh",
            "direction",
            "baseline_value",
            "baseline_date",
            "target_value",
            "target_date",
            "frequency",
            "weight",
            "owner_team",
            "min_value",
            "max_value",
            "source_note",
        ]
        widgets = {"source_note": forms.Textarea(attrs={"rows": 2})}


class MilestoneForm(StructureForm):
    """A milestone's definition; its progress is reported by its owner team (plans.forms.MilestoneUpdateForm)."""

    class Meta:
        model = Milestone
        fields = [
            "goal",
            "title",
            "title_zh",
            "description",
            "description_zh",
            "owner_team",
            "start_date",
            "due_date",
            "weight",
        ]
        widgets = DESCRIPTION_WIDGETS
