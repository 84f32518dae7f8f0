"""The reporting cycle's API: submissions with their review actions, and period reopenings."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from plans import selectors, services
from plans.choices import MeasurementSource
from plans.models import Submission

from .authentication import api_token, request_author
from .reporting_serializers import (
    BulkApproveResultSerializer,
    BulkApproveSerializer,
    PeriodReopeningFilterSet,
    PeriodReopeningSerializer,
    ReasonSerializer,
    ReportingAccess,
    SubmissionCreateSerializer,
    SubmissionFilterSet,
    SubmissionSerializer,
)
from .views import ApiViewMixin


def _source(request) -> str:
    return MeasurementSource.API if api_token(request) is not None else MeasurementSource.MANUAL


@extend_schema_view(
    list=extend_schema(summary=_("Submissions: figures per KPI, unit and period, and their review")),
    create=extend_schema(
        summary=_("Save a draft figure (or submit it with submit: true)"),
        description=_(
            "Creates or edits the figure of a KPI for a unit (null: national) and period. Only the KPI's owner "
            "team (national) or the unit's reporters may. A submitted figure cannot be edited until returned; "
            "an approved period is locked (409) until a manager reopens it."
        ),
        request=SubmissionCreateSerializer,
        responses={200: SubmissionSerializer, 201: SubmissionSerializer},
    ),
)
class SubmissionViewSet(ApiViewMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Submissions of figures for review: draft -> submitted -> approved or returned (with a reason)."""

    serializer_class = SubmissionSerializer
    filterset_class = SubmissionFilterSet
    permission_classes = [ReportingAccess]

    def get_queryset(self):
        return selectors.api_submission_list()

    def get_serializer_class(self):
        return SubmissionCreateSerializer if self.action == "create" else SubmissionSerializer

    def submission_response(self, submission, code=status.HTTP_200_OK, **extra):
        data = SubmissionSerializer(self.get_queryset().get(pk=submission.pk)).data
        return Response({**data, **extra}, status=code)

    def create(self, request, *args, **kwargs):
        serializer = SubmissionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        existed = Submission.objects.filter(
            kpi=data["kpi"], unit=data.get("unit"), period_end=data["period_end"]
        ).exists()
        submission = services.submission_save(
            kpi=data["kpi"],
            unit=data.get("unit"),
            period_end=data["period_end"],
            date=data.get("date"),
            value=data["value"],
            numerator=data.get("numerator"),
            denominator=data.get("denominator"),
            note=data.get("note", ""),
            submit=data.get("submit", False),
            source=_source(request),
            author=request_author(request),
        )
        return self.submission_response(submission, status.HTTP_200_OK if existed else status.HTTP_201_CREATED)

    @extend_schema(summary=_("Submit a draft for review"), request=None, responses={200: SubmissionSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        submission = services.submission_submit(submission=self.get_object(), author=request_author(request))
        return self.submission_response(submission)

    @extend_schema(
        summary=_("Approve a submitted figure (managers)"),
        description=_("The figure counts from now on and its period is locked."),
        request=None,
        responses={200: SubmissionSerializer},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        submission = services.submission_approve(submission=self.get_object(), author=request_author(request))
        return self.submission_response(submission)

    @extend_schema(
        summary=_("Return a submitted figure to its author with a reason (managers)"),
        request=ReasonSerializer,
        responses={200: SubmissionSerializer},
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_to_author(self, request, pk=None):
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        submission = services.submission_return(
            submission=self.get_object(), reason=serializer.validated_data["reason"], author=request_author(request)
        )
        return self.submission_response(submission)

    @extend_schema(
        operation_id="submissions_approve_bulk",
        summary=_("Approve many submitted figures at once (managers)"),
        description=_("One transaction; each is checked on its own: those that cannot be approved are skipped."),
        request=BulkApproveSerializer,
        responses={200: BulkApproveResultSerializer},
    )
    @action(detail=False, methods=["post"], url_path="approve", url_name="approve-bulk")
    def approve_bulk(self, request):
        serializer = BulkApproveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        summary = services.submissions_approve_bulk(
            ids=serializer.validated_data["ids"], author=request_author(request)
        )
        return Response(BulkApproveResultSerializer(summary).data)


@extend_schema_view(
    list=extend_schema(summary=_("Period reopenings")),
    create=extend_schema(
        summary=_("Reopen an approved period for one unit until a date (managers)"),
        description=_("Writes to the period are restatements until it expires; then it is locked again."),
    ),
)
class PeriodReopeningViewSet(ApiViewMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PeriodReopeningSerializer
    filterset_class = PeriodReopeningFilterSet
    permission_classes = [ReportingAccess]
    sync_field = "created_at"

    def get_queryset(self):
        return selectors.api_period_reopening_list()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reopening = services.period_reopen(
            plan=data["plan"],
            unit=data.get("unit"),
            period_end=data["period_end"],
            reason=data["reason"],
            expires_at=data["expires_at"],
            author=request_author(request),
        )
        return Response(PeriodReopeningSerializer(reopening).data, status=status.HTTP_201_CREATED)
