"""The reporting cycle's API parts that the resource views share: serializers, filters and permission of
submissions, periods and reopenings, a KPI's periods, and the routing of measurement writes on plans under
review (``Plan.counting`` other than "all") into submissions. The viewsets are in ``plans.api.reporting``."""

import django_filters
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers, status
from rest_framework.response import Response

from plans import selectors, services
from plans.choices import Counting, MeasurementSource, SubmissionState
from plans.dates import period_end_containing
from plans.filtersets import IdFilter, StrictBooleanFilter, SyncFilterMixin
from plans.models import KPI, PeriodReopening, Plan, ReportingUnit, Submission, SubmissionTransition
from plans.models.base import MAX_ABS_VALUE, MAX_ID, multi_line_validators

from .authentication import api_token, request_author
from .serializers import (
    MAX_TEXT_LENGTH,
    IdRelatedField,
    MeasurementSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    StrictMixin,
    StrictModelSerializer,
)

AWAITING_REVIEW = _("The figure is awaiting review: it counts toward the statuses once a manager approves it.")


class SubmissionTransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SubmissionTransition
        fields = ("from_state", "to_state", "actor", "actor_token", "reason", "at")
        read_only_fields = fields


class SubmissionSerializer(StrictModelSerializer):
    """A figure for one KPI, unit (null: national) and period, its review state and every move it made."""

    owner_team = serializers.IntegerField(source="owner_team_id", read_only=True)
    transitions = SubmissionTransitionSerializer(many=True, read_only=True)

    class Meta:
        model = Submission
        fields = (
            "id",
            "plan",
            "kpi",
            "owner_team",
            "unit",
            "period_end",
            "due_date",
            "state",
            "date",
            "value",
            "numerator",
            "denominator",
            "note",
            "source",
            "submitted_by",
            "submitted_by_token",
            "submitted_at",
            "reviewed_by",
            "reviewed_at",
            "return_reason",
            "transitions",
            "version",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class SubmissionCreateSerializer(StrictMixin, serializers.Serializer):
    kpi = IdRelatedField(queryset=KPI.objects.all())
    unit = IdRelatedField(
        queryset=ReportingUnit.objects.all(), required=False, allow_null=True, help_text=_("Null: the national figure.")
    )
    period_end = serializers.DateField(help_text=_("The last day of one of the KPI's reporting periods."))
    date = serializers.DateField(required=False, allow_null=True, help_text=_("Within the period; null: its end."))
    value = StrictFloatField(min_value=-MAX_ABS_VALUE, max_value=MAX_ABS_VALUE)
    numerator = StrictFloatField(required=False, allow_null=True, min_value=-MAX_ABS_VALUE, max_value=MAX_ABS_VALUE)
    denominator = StrictFloatField(required=False, allow_null=True, min_value=-MAX_ABS_VALUE, max_value=MAX_ABS_VALUE)
    note = StrictCharField(
        required=False, allow_blank=True, default="", max_length=MAX_TEXT_LENGTH, validators=multi_line_validators
    )
    submit = StrictBooleanField(required=False, default=False, help_text=_("Also submit it for review."))


class ReasonSerializer(StrictMixin, serializers.Serializer):
    reason = StrictCharField(max_length=MAX_TEXT_LENGTH, validators=multi_line_validators)


class BulkApproveSerializer(StrictMixin, serializers.Serializer):
    ids = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID), allow_empty=False, max_length=1000
    )


class SkippedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reason = StrictCharField()


class BulkApproveResultSerializer(serializers.Serializer):
    approved = serializers.ListField(child=serializers.IntegerField())
    skipped = SkippedSerializer(many=True)


class PeriodStateSerializer(serializers.Serializer):
    unit = serializers.IntegerField(allow_null=True, help_text=_("Null: the national figure."))
    state = serializers.ChoiceField(choices=SubmissionState.choices)


class PeriodSerializer(serializers.Serializer):
    period_end = serializers.DateField()
    due_date = serializers.DateField()
    submissions = PeriodStateSerializer(many=True, help_text=_("The submission state of each unit that has one."))


class PeriodReopeningSerializer(StrictModelSerializer):
    class Meta:
        model = PeriodReopening
        fields = ("id", "plan", "unit", "period_end", "reason", "expires_at", "created_by", "created_at")
        read_only_fields = ("created_by", "created_at")


class SubmissionFilterSet(SyncFilterMixin):
    plan = IdFilter(field_name="plan", label=_("Plan"))
    kpi = IdFilter(field_name="kpi", label=_("KPI"))
    unit = IdFilter(field_name="unit", label=_("Reporting unit"))
    national = StrictBooleanFilter(field_name="unit", lookup_expr="isnull", label=_("National figures"))
    period_end = django_filters.DateFilter(label=_("Period end"))
    state = django_filters.ChoiceFilter(choices=SubmissionState.choices, label=_("State"))

    class Meta:
        model = Submission
        fields = ["updated_since", "plan", "kpi", "unit", "period_end", "state"]


class PeriodReopeningFilterSet(django_filters.FilterSet):
    plan = IdFilter(field_name="plan", label=_("Plan"))
    unit = IdFilter(field_name="unit", label=_("Reporting unit"))
    period_end = django_filters.DateFilter(label=_("Period end"))

    class Meta:
        model = PeriodReopening
        fields = ["plan", "unit", "period_end"]


class ReportingAccess(permissions.BasePermission):
    """Reads for every authenticated caller; writes for signed-in users and write tokens. Who may report,
    review or reopen a given figure is the services' decision (``can_report``, ``can_review``): 403 from them."""

    message = _("This token is read-only.")

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        token = api_token(request)
        return request.method in permissions.SAFE_METHODS or token is None or token.can_write


def kpi_periods_response(kpi: KPI) -> Response:
    """The KPI's reporting periods with their due dates and the state of each unit's (or the national) submission."""
    states = selectors.kpi_period_states(kpi)
    rows = [
        {
            "period_end": period.period_end,
            "due_date": period.due_date,
            "submissions": [{"unit": unit, "state": state} for unit, state in states.get(period.period_end, [])],
        }
        for period in services.reporting_periods(kpi)
    ]
    return Response(PeriodSerializer(rows, many=True).data)


def under_review(plan: Plan) -> bool:
    return plan.counting != Counting.ALL


def measurement_routed(request, data: dict) -> Response | None:
    """A measurement POSTed for a KPI of a plan under review (None for other plans: the caller records it): an
    authoritative token's value is approved on arrival (201, the measurement); anyone else's arrives as a
    submitted submission (202, with the submission and ``detail`` saying it awaits review)."""
    kpi = data["kpi"]
    if not under_review(kpi.plan):
        return None
    token = api_token(request)
    author = request_author(request)
    submission = services.submission_save(
        kpi=kpi,
        period_end=period_end_containing(kpi.frequency, data["date"]),
        date=data["date"],
        value=data["value"],
        note=data.get("note", ""),
        source=MeasurementSource.API,
        submit=True,
        author=author,
    )
    if token is not None and token.authoritative:
        services.submission_approve(submission=submission, author=token)
        measurement = selectors.api_measurement_list().get(
            kpi=kpi, unit__isnull=True, date=data["date"], source=MeasurementSource.API
        )
        return Response(MeasurementSerializer(measurement).data, status=status.HTTP_201_CREATED)
    data = SubmissionSerializer(selectors.api_submission_list().get(pk=submission.pk)).data
    return Response({**data, "detail": str(AWAITING_REVIEW)}, status=status.HTTP_202_ACCEPTED)


ROUTED_RESPONSE = OpenApiResponse(
    response=SubmissionSerializer,
    description=_(
        "The KPI's plan reviews its figures and the caller is not an authoritative source: the value arrived as "
        "a submitted submission, awaiting review (``detail`` says so). An authoritative token's value is "
        "approved on arrival and answered 201 with the measurement."
    ),
)


@transaction.atomic
def measurements_bulk_routed(request, rows: list, *, submit: bool) -> dict | None:
    """The bulk upsert for a payload with rows of KPIs whose plan reviews its figures (None when it has none:
    the caller upserts as before). Those rows become submissions: submitted when ``submit`` is true or the
    caller is an API token, drafts otherwise, approved on arrival from an authoritative token; the others are
    upserted. All or nothing: MeasurementRowsInvalid with the errors by row index."""
    counting = dict(KPI.objects.filter(pk__any={row.kpi_id for row in rows}).values_list("pk", "plan__counting"))
    reviewed = {index for index, row in enumerate(rows) if counting.get(row.kpi_id, Counting.ALL) != Counting.ALL}
    if not reviewed:
        return None
    token, author = api_token(request), request_author(request)
    submit = submit or token is not None
    direct = [index for index in range(len(rows)) if index not in reviewed]
    counts = {"created": 0, "updated": 0, "unchanged": 0, "submitted": 0, "drafts": 0, "approved": 0}
    errors: dict[int, dict] = {}
    if direct:
        try:
            counts.update(services.measurements_bulk_upsert(rows=[rows[i] for i in direct], recorded_by=author))
        except services.MeasurementRowsInvalid as exc:
            errors.update({direct[i]: row_errors for i, row_errors in exc.errors.items()})
    kpis = KPI.objects.select_related("plan").in_bulk({rows[i].kpi_id for i in reviewed})
    for index in sorted(reviewed):
        row, kpi = rows[index], kpis[rows[index].kpi_id]
        try:
            with transaction.atomic():
                submission = services.submission_save(
                    kpi=kpi,
                    period_end=period_end_containing(kpi.frequency, row.date),
                    date=row.date,
                    value=row.value,
                    note=row.note,
                    source=MeasurementSource.API,
                    submit=submit,
                    author=author,
                )
                if token is not None and token.authoritative:
                    services.submission_approve(submission=submission, author=token)
        except DjangoValidationError as exc:
            errors[index] = exc.message_dict
        except (services.PeriodLocked, services.SubmissionRefused, DjangoPermissionDenied) as exc:
            errors[index] = {"non_field_errors": [str(exc)]}
        else:
            state = "approved" if token is not None and token.authoritative else "submitted" if submit else "drafts"
            counts[state] += 1
    if errors:
        raise services.MeasurementRowsInvalid(errors)
    return counts
