"""API representations. One serializer per model where input and output agree; separate ones where not.

Every serializer rejects unknown fields (a typo must not pass silently) and ignores read-only ones:
computed statuses, versions, timestamps and the denormalised plan are never taken from a client.
"""

import copy
import weakref
from collections.abc import Mapping
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import empty

from plans import numbers
from plans.choices import MilestoneState, Status, UnitLevel
from plans.models import (
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
from plans.models.base import MAX_ABS_VALUE, MAX_ID, multi_line_validators, single_line_validators

from .expand import EXPANDABLE

MAX_TEXT_LENGTH = 10_000
MAX_BULK_ROWS = 10_000
COMPUTED = ("status", "score", "progress", "computed_at", "explanation")
TRACKED = ("version", "created_at", "updated_at")


class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key that is range-checked before the query (SQLite overflows on huge integers)."""

    def to_internal_value(self, data):
        # isascii: isdigit() also takes digits such as "³" that int() refuses.
        text = str(data)
        if isinstance(data, bool) or not isinstance(data, int | str) or not (text.isascii() and text.isdigit()):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < int(data) <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(int(data))


NUMBER_MESSAGES = {
    "invalid": _('Send a JSON number or a plain decimal string, such as 12.5 or "12.5".'),
    "not_integer": _("Send a whole number."),
}


class StrictNumberMixin:
    """Numbers are JSON numbers or plain decimal strings, read by plans.numbers.parse_number.

    DRF's own fields take ``true`` as 1 and ``"1_000"`` as 1000; these refuse both, with the reason.
    """

    number_kind: type = float

    def to_internal_value(self, data):
        try:
            value = numbers.parse_number(data, kind=self.number_kind)
        except DjangoValidationError as exc:
            message = NUMBER_MESSAGES.get(exc.code, exc.message)
            raise serializers.ValidationError(message % (exc.params or {}), code=exc.code) from exc
        if value is None:
            raise serializers.ValidationError(NUMBER_MESSAGES["invalid"], code="invalid")
        return value


class StrictFloatField(StrictNumberMixin, serializers.FloatField):
    pass


class StrictIntegerField(StrictNumberMixin, serializers.IntegerField):
    number_kind = int


class StrictDecimalField(StrictNumberMixin, serializers.DecimalField):
    number_kind = Decimal

    def to_internal_value(self, data):
        return self.quantize(self.validate_precision(super().to_internal_value(data)))


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true and false: DRF's BooleanField also takes "yes", "on", 1, "1", "t"..., and a client
    sending one of those has a bug that a guess would hide. Every boolean the API accepts uses this field."""

    default_error_messages = {"invalid": _("Send JSON true or false.")}

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid")


class StrictCharField(serializers.CharField):
    """Only JSON strings: DRF's CharField also takes 12 as "12", and a client sending a number where text belongs
    has a bug that a conversion would hide. Every text the API accepts uses this field."""

    default_error_messages = {"invalid": _("Send a JSON string.")}

    def run_validation(self, data=empty):
        # The schema's maxLength is the string's as sent: DRF measures it once trimmed (and a blank one not at all).
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().run_validation(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


STRICT_FIELDS = {
    serializers.CharField: StrictCharField,
    serializers.FloatField: StrictFloatField,
    serializers.IntegerField: StrictIntegerField,
    serializers.DecimalField: StrictDecimalField,
    serializers.BooleanField: StrictBooleanField,
}


class StrictMixin:
    """Unknown fields are errors; read-only fields are known and silently ignored."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


# StrictModelSerializer.get_fields: the fields each serializer class builds from its model, copied per instance.
# Weak keys: by_external_id makes a class per request, which must not stay here for good.
_FIELD_PROTOTYPES: weakref.WeakKeyDictionary[type, dict] = weakref.WeakKeyDictionary()


class StrictModelSerializer(StrictMixin, serializers.ModelSerializer):
    serializer_related_field = IdRelatedField
    serializer_field_mapping = {
        model_field: STRICT_FIELDS.get(field, field)
        for model_field, field in serializers.ModelSerializer.serializer_field_mapping.items()
    }

    def get_fields(self):
        # ModelSerializer introspects the model for every instance (a KPI's 33 fields: 1.1 ms, more than the
        # rest of a detail request); what it builds depends only on the class, so it is built once per class
        # and each instance gets a deep copy, as DRF gives each instance its declared fields.
        prototypes = _FIELD_PROTOTYPES.get(type(self))
        if prototypes is None:
            prototypes = _FIELD_PROTOTYPES[type(self)] = super().get_fields()
        fields = copy.deepcopy(prototypes)
        # plans.api.expand: large fields only when asked for; no "expand" in the context (not from a view) keeps all.
        expand = self.context.get("expand")
        if expand is not None:
            for name in EXPANDABLE - expand:
                fields.pop(name, None)
        return fields

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        # TextFields have no length in the database; the API still bounds them.
        if field_class is StrictCharField and "max_length" not in kwargs and not kwargs.get("read_only"):
            kwargs["max_length"] = MAX_TEXT_LENGTH
        return field_class, kwargs


def computed_status():
    """Blank until the status engine first runs; declared here since DRF drops allow_blank on read-only fields."""
    return serializers.ChoiceField(choices=Status.choices, allow_blank=True, read_only=True)


class TeamSerializer(StrictModelSerializer):
    class Meta:
        model = Team
        fields = ("id", "name", "name_zh", *TRACKED)


class PlanSerializer(StrictModelSerializer):
    status = computed_status()

    class Meta:
        model = Plan
        fields = (
            "id",
            "name",
            "name_zh",
            "slug",
            "description",
            "description_zh",
            "baseline_year",
            "start_date",
            "end_date",
            *COMPUTED,
            *TRACKED,
        )
        read_only_fields = fields


class FocusAreaSerializer(StrictModelSerializer):
    status = computed_status()

    class Meta:
        model = FocusArea
        fields = (
            *("id", "plan", "code", "name", "name_zh", "description", "description_zh", "order", "weight"),
            *COMPUTED,
            *TRACKED,
        )
        read_only_fields = fields


class GoalSerializer(StrictModelSerializer):
    status = computed_status()

    class Meta:
        model = Goal
        fields = (
            "id",
            "plan",
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
            "source",
            "external_id",
            *COMPUTED,
            *TRACKED,
        )
        # Uniqueness is checked by the service's full_clean, inside its transaction.
        validators = []


class MilestoneSerializer(StrictModelSerializer):
    status = computed_status()
    note = StrictCharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=MAX_TEXT_LENGTH,
        validators=multi_line_validators,
        help_text=_("The progress log's note for a change of percent or state; required when blocked or going down."),
    )

    class Meta:
        model = Milestone
        fields = (
            "id",
            "plan",
            "goal",
            "title",
            "title_zh",
            "description",
            "description_zh",
            "owner_team",
            "start_date",
            "due_date",
            "weight",
            "percent_complete",
            "state",
            "completed_on",
            "note",
            "source",
            "external_id",
            *COMPUTED,
            *TRACKED,
        )
        validators = []


class UnitCodeField(serializers.SlugRelatedField):
    """A reporting unit by its code. Read from the ``<field>_code`` annotation the selectors add, so a list costs
    no query a row; written as a code (an unknown one is a 400 on the field)."""

    default_error_messages = {
        "does_not_exist": _("No reporting unit has the code {value}."),
        "invalid": _("Send a unit code, such as a string."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", ReportingUnit.objects.all())
        super().__init__(slug_field="code", **kwargs)

    def get_attribute(self, instance):
        annotated = f"{self.source}_code"
        if annotated in getattr(instance, "__dict__", {}):
            return instance.__dict__[annotated]
        unit = super().get_attribute(instance)
        return unit.code if unit is not None else None

    def to_representation(self, value):
        return value

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 32:
            self.fail("invalid")
        return super().to_internal_value(data)


class UnitSerializer(StrictModelSerializer):
    """A reporting unit of the register: a nation, province (or region) or zone."""

    parent = UnitCodeField(required=False, allow_null=True, help_text=_("The parent unit's code; none for the nation."))

    class Meta:
        model = ReportingUnit
        fields = (
            "id",
            "code",
            "name_en",
            "name_zh",
            "level",
            "parent",
            "zone_count",
            "active_from",
            "active_until",
            "order",
            "source",
            "external_id",
            *TRACKED,
        )
        # Uniqueness is checked by the service's full_clean, inside its transaction.
        validators = []


class UnitUpdateSerializer(UnitSerializer):
    """The same fields; a unit's code does not change (clients and imports know it by its code)."""

    class Meta(UnitSerializer.Meta):
        read_only_fields = ("code",)


KPI_FORECAST = ("forecast_value", "forecast_low", "forecast_high", "latest_value", "latest_date", "stale")


class KPISerializer(StrictModelSerializer):
    status = computed_status()

    class Meta:
        model = KPI
        fields = (
            "id",
            "plan",
            "goal",
            "code",
            "name",
            "name_zh",
            "unit",
            "unit_zh",
            "decimals",
            "direction",
            "baseline_value",
            "baseline_date",
            "target_value",
            "target_date",
            "min_value",
            "max_value",
            "frequency",
            "weight",
            "owner_team",
            "source_note",
            "aggregation",
            "national_source",
            "weight_kpi",
            "denominator_kpi",
            "ratio_scale",
            "base_kpi",
            "comparison_kpi",
            "comparison_scale",
            "source",
            "external_id",
            *KPI_FORECAST,
            *COMPUTED,
            *TRACKED,
        )
        validators = []


def by_external_id(serializer_class):
    """The same fields, with source and external_id taken from the URL instead of the body."""

    class ByExternalId(serializer_class):
        class Meta(serializer_class.Meta):
            read_only_fields = ("source", "external_id")

    ByExternalId.__name__ = f"{serializer_class.__name__.removesuffix('Serializer')}ByExternalIdSerializer"
    return ByExternalId


class MeasurementSerializer(StrictModelSerializer):
    """Create (upsert on KPI, unit and date, source "api") and read."""

    plan = serializers.IntegerField(source="plan_id", read_only=True)
    owner_team = serializers.IntegerField(source="owner_team_id", read_only=True)
    unit = UnitCodeField(
        required=False,
        allow_null=True,
        help_text=_("The reporting unit's code (a zone's own figure); left out or null: the national figure."),
    )

    class Meta:
        model = Measurement
        fields = (
            "id",
            "kpi",
            "plan",
            "owner_team",
            "unit",
            "date",
            "value",
            "numerator",
            "denominator",
            "note",
            "source",
            "external_id",
            "recorded_by",
            "recorded_by_token",
            "recorded_at",
            "provisional",
            "restatement",
            *TRACKED,
        )
        # provisional: submitted, counting until reviewed; restatement: recorded under a reopening of its period.
        read_only_fields = ("source", "recorded_by", "recorded_by_token", "recorded_at", "provisional", "restatement")
        extra_kwargs = {
            "value": {
                "required": False,
                "help_text": _("Required, except for a ratio KPI's figure given with its numerator and denominator."),
            },
            "numerator": {"help_text": _("A ratio KPI's numerator (required for a unit's figure of one).")},
            "denominator": {"help_text": _("A ratio KPI's denominator, where the unit has one; not zero.")},
        }
        validators = []


class MeasurementUpdateSerializer(MeasurementSerializer):
    """Revise a value in place: the KPI, unit and date of a measurement do not change."""

    class Meta(MeasurementSerializer.Meta):
        read_only_fields = (
            *("kpi", "unit", "date", "source", "recorded_by", "recorded_by_token", "recorded_at"),
            *("provisional", "restatement"),
        )


class MilestoneUpdateSerializer(StrictModelSerializer):
    """A progress report on a milestone; it moves the milestone's percent complete and state."""

    plan = serializers.IntegerField(source="plan_id", read_only=True)
    owner_team = serializers.IntegerField(source="owner_team_id", read_only=True)
    completed_on = serializers.DateField(required=False, allow_null=True, write_only=True)
    previous_state = serializers.ChoiceField(choices=MilestoneState.choices, allow_blank=True, read_only=True)

    class Meta:
        model = MilestoneUpdate
        fields = (
            "id",
            "milestone",
            "plan",
            "owner_team",
            "percent_complete",
            "state",
            "previous_percent_complete",
            "previous_state",
            "note",
            "evidence_url",
            "completed_on",
            "author",
            "author_token",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("previous_percent_complete", "previous_state", "author", "author_token")


class TombstoneSerializer(StrictModelSerializer):
    plan = serializers.IntegerField(source="plan_id", read_only=True, allow_null=True)

    class Meta:
        model = Tombstone
        fields = ("id", "resource", "item_id", "plan", "source", "external_id", "deleted_at")
        read_only_fields = fields


class DefinitionChangeSerializer(StrictModelSerializer):
    """One change of a definition: a field's old and new value, or the whole item when created or deleted."""

    old_value = serializers.JSONField(read_only=True, allow_null=True)
    new_value = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = DefinitionChange
        fields = (
            "id",
            "item_type",
            "item_id",
            "action",
            "field",
            "old_value",
            "new_value",
            "changed_by",
            "changed_by_token",
            "channel",
            "changed_at",
        )
        read_only_fields = fields


class BulkMeasurementRowSerializer(StrictMixin, serializers.Serializer):
    kpi = StrictIntegerField(required=False, min_value=1, max_value=MAX_ID, help_text=_("The KPI's id."))
    kpi_external_id = StrictCharField(
        required=False,
        max_length=128,
        validators=single_line_validators,
        help_text=_("Instead of kpi: the KPI's external id."),
    )
    kpi_source = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=64,
        validators=single_line_validators,
        help_text=_("With kpi_external_id, when the same external id is used by several sources."),
    )
    unit = StrictCharField(
        required=False,
        max_length=32,
        validators=single_line_validators,
        help_text=_("The reporting unit's code (a zone's own figure); left out: the national figure."),
    )
    date = serializers.DateField()
    value = StrictFloatField(
        min_value=-MAX_ABS_VALUE,
        max_value=MAX_ABS_VALUE,
        required=False,
        help_text=_("Required, except for a ratio KPI's figure given with its numerator and denominator."),
    )
    numerator = StrictFloatField(min_value=-MAX_ABS_VALUE, max_value=MAX_ABS_VALUE, required=False)
    denominator = StrictFloatField(min_value=-MAX_ABS_VALUE, max_value=MAX_ABS_VALUE, required=False)
    note = StrictCharField(
        required=False, allow_blank=True, default="", max_length=MAX_TEXT_LENGTH, validators=multi_line_validators
    )
    external_id = StrictCharField(
        required=False, allow_blank=True, default="", max_length=128, validators=single_line_validators
    )

    def validate(self, attrs):
        if ("kpi" in attrs) == ("kpi_external_id" in attrs):
            raise serializers.ValidationError({"kpi": [_("Give either kpi or kpi_external_id.")]})
        return attrs


class BulkMeasurementsSerializer(StrictMixin, serializers.Serializer):
    measurements = BulkMeasurementRowSerializer(many=True, allow_empty=False, max_length=MAX_BULK_ROWS)
    submit = StrictBooleanField(
        required=False,
        default=False,
        help_text=_(
            "Rows of KPIs whose plan reviews its figures become submissions: submitted for review with true "
            "(always, for an API token; approved on arrival from an authoritative token), drafts otherwise."
        ),
    )


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    submitted = serializers.IntegerField(required=False, help_text=_("Rows now awaiting review."))
    drafts = serializers.IntegerField(required=False, help_text=_("Rows saved as draft submissions."))
    approved = serializers.IntegerField(required=False, help_text=_("Rows approved on arrival."))


class BreakdownUnitSerializer(serializers.Serializer):
    """One unit of a KPI's breakdown: its value in the period, the coverage behind it, its status on its own series."""

    unit = StrictCharField(source="unit.code", help_text=_("The unit's code."))
    name_en = StrictCharField(source="unit.name_en")
    name_zh = StrictCharField(source="unit.name_zh")
    level = serializers.ChoiceField(source="unit.level", choices=UnitLevel.choices)
    parent = StrictCharField(source="unit.parent.code", allow_null=True, default=None)
    value = serializers.FloatField(
        allow_null=True, help_text=_("A province's or the nation's: derived from its zones; a zone's: its own figure.")
    )
    numerator = serializers.FloatField(allow_null=True)
    denominator = serializers.FloatField(allow_null=True)
    reported_zones = serializers.IntegerField(help_text=_("Zones whose figures are in the value."))
    expected_zones = serializers.IntegerField(help_text=_("Zones the unit stands for."))
    weight_coverage = serializers.FloatField(
        allow_null=True,
        help_text=_("The reporting zones' share of the weight all expected zones carried a year earlier."),
    )
    reported_value = serializers.FloatField(allow_null=True, help_text=_("The value reported directly for the unit."))
    status = serializers.ChoiceField(choices=Status.choices, allow_blank=True)
    score = serializers.FloatField(allow_null=True)
    progress = serializers.FloatField(allow_null=True)
    latest_value = serializers.FloatField(allow_null=True)
    latest_date = serializers.DateField(allow_null=True)


class BreakdownSerializer(serializers.Serializer):
    kpi = serializers.IntegerField()
    period_end = serializers.DateField(allow_null=True, help_text=_("The period shown; null when no unit reported."))
    units = BreakdownUnitSerializer(many=True)
