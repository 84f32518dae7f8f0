"""Staff forms: parse input, then call the service that writes it (plans.services).

The rules of what may be written are the services'; a refused write comes back as the service's
ValidationError, shown on the field it names (``VersionedForm.add_service_error``).

Both forms carry the item's version; a save based on an older one is refused by the service
(StaleVersionError) and the form turns that into a conflict the page can show, with the newer values
and what the user typed kept for a resubmit.
"""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from . import numbers, services
from .choices import Aggregation, Counting, MeasurementSource, MilestoneState, UnitLevel
from .dates import latest_due_period_end, period_end_containing
from .models import KPI, Milestone, ReportingUnit
from .models.base import multi_line_validators
from .permissions import is_manager, unit_scope


class StrictNumberMixin:
    """Read the input with plans.numbers.parse_number, worded with the field's own messages.

    The forms are not localized (``localize=False``): both languages we serve write decimals with ".",
    and a localized field would strip thousands separators, so "12,5" would become 125.
    """

    number_kind: type = float

    def to_python(self, value):
        separator = formats.get_format("DECIMAL_SEPARATOR") if self.localize else "."
        try:
            return numbers.parse_number(value, kind=self.number_kind, decimal_separator=separator)
        except ValidationError as exc:
            raise numbers.field_error(exc, self.error_messages) from exc


class FiniteFloatField(StrictNumberMixin, forms.FloatField):
    """A float that is a real, plausible number: no NaN, no infinity, no magnitude beyond MAX_ABS_VALUE."""

    default_error_messages = {"invalid": numbers.MESSAGES["invalid"]}

    def validate(self, value):
        forms.Field.validate(self, value)  # FloatField.validate would re-check finiteness with a vaguer message


class PercentField(StrictNumberMixin, forms.IntegerField):
    number_kind = int
    default_error_messages = {
        "invalid": _("Enter a whole number from 0 to 100."),
        "not_integer": _("Enter a whole number from 0 to 100."),
        "too_large": _("Enter a whole number from 0 to 100."),
        "not_finite": _("Enter a whole number from 0 to 100: “NaN” and infinity are not allowed."),
        "min_value": _("Percent complete cannot be below 0."),
        "max_value": _("Percent complete cannot be above 100."),
    }

    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=100, **kwargs)


def user_display_name(user) -> str:
    if user is None:
        return str(_("someone"))
    return user.get_full_name() or user.get_username()


class VersionedForm(forms.Form):
    """A form for one item that carries the item's version and reports a stale save as a conflict."""

    version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        error_messages={
            "required": _("The form lost track of the item's version: reload the page and try again."),
            "invalid": _("The form lost track of the item's version: reload the page and try again."),
        },
    )
    conflict_message = _(
        "This item was changed by %(name)s at %(time)s since you opened this form. "
        "Its current values are shown below and your entries are kept: check them and save again."
    )

    # Keyword arguments a rebased form is built with again (besides the data and the item).
    rebase_kwargs: tuple[str, ...] = ()

    def __init__(self, data=None, *, item, **kwargs):
        self.item = item
        self.conflict: services.StaleVersionError | None = None
        initial = {"version": item.version, **self.initial_from(item), **kwargs.pop("initial", {})}
        super().__init__(data, initial=initial, **kwargs)

    def initial_from(self, item) -> dict:
        return {}

    def record(self, *, user):
        raise NotImplementedError

    def save(self, *, user):
        """Write through the service; returns its result, or None with form errors (a conflict or a refused write)."""
        try:
            return self.record(user=user)
        except services.StaleVersionError as exc:
            self.conflict = exc
            return None
        except ValidationError as exc:  # the service's rules: shown on the fields they concern
            self.add_service_error(exc)
            return None
        except (services.PeriodLocked, services.SubmissionRefused, services.PlanClosed) as exc:  # says why
            self.add_error(None, str(exc))
            return None

    def add_service_error(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)

    def rebased(self):
        """After a conflict: the same input, bound to the newer item and version, with the conflict explained."""
        current = self.conflict.current
        data = self.data.copy()
        data["version"] = str(current.version)
        form = type(self)(data, item=current, **{name: getattr(self, name) for name in self.rebase_kwargs})
        form.conflict = self.conflict
        form.full_clean()
        when = self.conflict.changed_at
        time = formats.date_format(timezone.localtime(when), "DATETIME_FORMAT") if when else "?"
        form.add_error(
            None,
            ValidationError(
                self.conflict_message,
                code="stale",
                params={"name": user_display_name(self.conflict.changed_by), "time": time},
            ),
        )
        return form


class MilestoneUpdateForm(VersionedForm):
    percent_complete = PercentField(label=_("Percent complete"), help_text=_("A whole number from 0 to 100."))
    state = forms.ChoiceField(label=_("State"), choices=MilestoneState.choices)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=4000,
        validators=multi_line_validators,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Required when the milestone is blocked or its progress goes down."),
    )
    evidence_url = forms.URLField(
        label=_("Evidence link"),
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text=_("A link to a report, minutes or other proof of progress."),
        error_messages={"invalid": _("Enter a full web address, such as https://example.org/report.pdf.")},
    )

    def initial_from(self, item: Milestone) -> dict:
        return {"percent_complete": item.percent_complete, "state": item.state}

    def record(self, *, user):
        data = self.cleaned_data
        return services.milestone_progress_record(
            milestone=self.item,
            percent_complete=data["percent_complete"],
            state=data["state"],
            note=data["note"],
            evidence_url=data["evidence_url"],
            author=user,
            expected_version=data["version"],
        )


class MeasurementForm(VersionedForm):
    date = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        help_text=_("The day the value refers to. A second value for the same day revises the first."),
        error_messages={"invalid": _("Enter a date as YYYY-MM-DD.")},
    )
    value = FiniteFloatField(label=_("Value"))
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=4000,
        validators=multi_line_validators,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The source of the figure, or why it was revised."),
    )

    rebase_kwargs = ("user",)

    def __init__(self, data=None, *, item: KPI, today=None, user=None, **kwargs):
        self.today = today or timezone.localdate()
        self.user = user
        super().__init__(data, item=item, **kwargs)
        self._add_unit_fields(item, user)
        self.fields["value"].label = _("Value (%(unit)s)") % {"unit": item.tr.unit}
        self.fields["value"].widget.attrs.update({"inputmode": "decimal", "step": "any"})
        # A hint for the date picker only; the rule itself is the service's (measurement_check).
        first_day = item.baseline_date + datetime.timedelta(days=1)
        self.fields["date"].widget.attrs.update({"min": first_day.isoformat(), "max": self.today.isoformat()})

    def _add_unit_fields(self, kpi: KPI, user) -> None:
        """The reporting unit the figure is for, on a KPI that aggregates over units: a zone reporter picks one of
        their units (fixed when they have one), a manager any unit or none (the national figure); everyone else
        records the national figure as before. A ratio KPI also takes its numerator and denominator."""
        if user is None or kpi.aggregation == Aggregation.NONE:
            return
        units = unit_scope(user)
        if units is not None:
            choices = ReportingUnit.objects.filter(pk__in=units).order_by("level", "order", "code")
            field = forms.ModelChoiceField(
                label=_("Reporting unit"),
                queryset=choices,
                error_messages={"invalid_choice": _("You can only record figures of your own reporting units.")},
            )
            if len(units) == 1:  # one unit: fixed (a disabled field ignores what is posted)
                field.disabled = True
                field.initial = next(iter(units))
        elif is_manager(user):
            field = forms.ModelChoiceField(
                label=_("Reporting unit"),
                queryset=ReportingUnit.objects.exclude(level=UnitLevel.NATION).order_by("level", "order", "code"),
                required=False,
                empty_label=_("The national figure"),
                help_text=_("Leave empty for the national figure."),
            )
        else:
            return
        self.fields = {"unit": field, **self.fields}
        if kpi.aggregation == Aggregation.RATIO:
            self.fields["value"].required = False
            self.fields["value"].help_text = _("Leave empty when you give both the numerator and the denominator.")
            self.fields["numerator"] = FiniteFloatField(label=_("Numerator"), required=False)
            self.fields["denominator"] = FiniteFloatField(
                label=_("Denominator"), required=False, help_text=_("Where your unit has its own; not zero.")
            )

    def initial_from(self, item: KPI) -> dict:
        # A figure describes the latest period that has ended, not the day it is typed in; after the target
        # date it is the final figure, dated on the target date (plans.dates). Before any period has
        # ended, today: a figure dated on the baseline date would not count.
        due = latest_due_period_end(item.frequency, self.today, item.target_date)
        return {"date": due if due > item.baseline_date else self.today}

    def clean_note(self):
        return self.cleaned_data["note"].strip()

    @property
    def under_review(self) -> bool:
        """The plan reviews its figures: a save is a draft submission, "Save and submit" submits it."""
        return self.item.plan.counting != Counting.ALL

    def record(self, *, user):
        data = self.cleaned_data
        if self.under_review:
            return services.submission_save(
                kpi=self.item,
                unit=data.get("unit"),
                period_end=period_end_containing(self.item.frequency, data["date"]),
                date=data["date"],
                value=data["value"],
                numerator=data.get("numerator"),
                denominator=data.get("denominator"),
                note=data["note"],
                submit="submit" in self.data,
                author=user,
            )
        return services.measurement_record(
            kpi=self.item,
            unit=data.get("unit"),
            date=data["date"],
            value=data["value"],
            numerator=data.get("numerator"),
            denominator=data.get("denominator"),
            note=data["note"],
            source=MeasurementSource.MANUAL,
            recorded_by=user,
            expected_version=data["version"],
        )
