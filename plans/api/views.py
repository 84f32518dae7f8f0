"""API viewsets: parse input, check the caller's team, call selectors and services."""

import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from plans import filtersets, selectors, services
from plans.choices import ChangeChannel, MeasurementSource, PlanState
from plans.gcpause import collection_paused
from plans.models import KPI, Goal, Milestone
from plans.models.base import MAX_ID
from plans.permissions import can_change_definition, measurement_write_refusal, measurements_visible, unit_scope
from plans.read_cache import read_cache

from . import serializers
from .authentication import api_token, request_author
from .conditional import etag_for, if_match_version, list_etag, not_modified
from .exceptions import PayloadTooLarge, SyncTooOld
from .expand import EXPANDABLE, expanded_fields
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import MAX_KEY_LENGTH, IdempotentPostMixin
from .measurement_rows import measurements_bulk_rows, measurements_bulk_validate
from .parsers import BULK_MAX_BODY_BYTES
from .permissions import ApiAccess, definition_checked, ensure_can_change_definition
from .reporting_serializers import (
    ROUTED_RESPONSE,
    PeriodSerializer,
    kpi_periods_response,
    measurement_routed,
    measurements_bulk_routed,
)

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=_("The ETag you read; when the item changed since, nothing is written and the answer is 412."),
)
IDEMPOTENCY_KEY = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "maxLength": MAX_KEY_LENGTH},
    OpenApiParameter.HEADER,
    description=_("Replays the first response for the same key and body; 422 for the same key with another body."),
)
PRECONDITION_FAILED = OpenApiResponse(description=_("If-Match does not match the item's ETag."))


def write_schema(serializer_class) -> dict:
    """Schema of the create, update and delete operations: Idempotency-Key, If-Match and 412."""
    changed = {200: serializer_class, 412: PRECONDITION_FAILED}
    return {
        "create": extend_schema(parameters=[IDEMPOTENCY_KEY], responses={201: serializer_class}),
        "update": extend_schema(parameters=[IF_MATCH], responses=changed),
        "partial_update": extend_schema(parameters=[IF_MATCH], responses=changed),
        "destroy": extend_schema(parameters=[IF_MATCH], responses={204: None, 412: PRECONDITION_FAILED}),
    }


class BodyLimitMixin:
    """A body past the view's ``max_body_bytes`` is refused (413) before a byte is read; a write's body is parsed
    once the caller is let in, before anything else, so its size and nesting limits (plans.api.parsers) hold on
    every write, whatever the action reads."""

    max_body_bytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def initial(self, request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.max_body_bytes:
            raise PayloadTooLarge()
        super().initial(request, *args, **kwargs)
        if request.method in ("POST", "PUT", "PATCH") and length:
            request.data  # noqa: B018  (parsed now: a malformed or too deep body is a 400 before any lookup)


class ApiViewMixin(BodyLimitMixin, IdempotentPostMixin):
    """Shared by every API view: access rules, body size limit, Idempotency-Key, keyset pages."""

    permission_classes = [ApiAccess]
    # Any segment reaches get_object, so an id like "0.5" gets the API's JSON 404, not the site's HTML page.
    lookup_value_regex = "[^/]+"
    sync_field = "updated_at"

    def get_serializer_context(self):
        # The schema generator's fake view documents every field; a request gets the ones it expands.
        expand = frozenset(EXPANDABLE) if getattr(self, "swagger_fake_view", False) else expanded_fields(self.request)
        return {**super().get_serializer_context(), "expand": expand}

    def filter_queryset(self, queryset):
        # Every filter leaves a queryset as it is when its parameter is absent, so without a query string
        # building the filterset (a fifth of a trivial detail's time) is skipped.
        if self.request.query_params:
            queryset = super().filter_queryset(queryset)
        if self.request.method in ("GET", "HEAD"):
            # Reads skip the columns nobody asked for; writes load whole rows for the services.
            model_fields = {field.name for field in queryset.model._meta.concrete_fields}
            left_out = (EXPANDABLE & model_fields) - self.get_serializer_context()["expand"]
            if left_out:
                queryset = queryset.defer(*left_out)
        return queryset

    def list(self, request, *args, **kwargs):
        """A page with an ETag from its rows' versions and stamps, answered 304 before serialising when unchanged."""
        rows = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        etag = list_etag(request, rows, has_next=self.paginator.has_next)
        if not_modified(request, etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        response = self.get_paginated_response(self.get_serializer(rows, many=True).data)
        response["ETag"] = etag
        return response

    def retrieve(self, request, *args, **kwargs):
        """An item with its ETag (304 when If-None-Match names it). A token's JSON read is kept in the process's
        memory until anything changes (``plans.read_cache``): the sync clients read the same items over and over."""
        key = self.read_cache_key(request)
        generation = read_cache.generation() if key else None
        kept = read_cache.get(key, generation)
        if kept is None:
            item = self.get_object()
            etag = etag_for(item, request)
            if not_modified(request, etag):
                return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
            kept = dict(self.get_serializer(item).data), etag
            read_cache.put(key, kept, generation)
        data, etag = kept
        if not_modified(request, etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag})

    def read_cache_key(self, request) -> tuple | None:
        """What a token's JSON detail depends on beyond the stored rows, which notify their changes: the view, the
        path with its query (expand), the media type, the token (its scope, team and units) and the language. Not
        the day: no representation is computed from today's date (statuses are stored by the recompute)."""
        token = api_token(request)
        if token is None or request.accepted_renderer.format != "json":
            return None
        return (type(self), request.get_full_path(), request.accepted_media_type, token.pk, get_language())

    def check_team_permissions(self, request, team_id: int | None) -> None:
        """Like ``check_object_permissions``, for the team that owns the item once the write is done."""
        for permission in self.get_permissions():
            if not permission.has_team_permission(request, self, team_id):
                self.permission_denied(request, message=permission.message)

    def get_object(self):
        # Out-of-range ids overflow SQLite's integers; they name nothing, so 404 before the query. isdigit() alone
        # also takes digits such as "³" that int() refuses.
        value = str(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, ""))
        if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= MAX_ID:
            raise NotFound()
        return super().get_object()


class ReadOnlyViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Lists and details only (their ETags and 304s come from ApiViewMixin)."""


class TrackedViewSet(ApiViewMixin, viewsets.ModelViewSet):
    # Create, read, update and delete through services, with ETag / If-Match on the detail routes.
    # Subclasses give selector, create_item, update_item and delete_item; owner_team_id(data, item)
    # is the team that owns the item once data is written, checked against the caller's teams.
    # Goals, milestones and KPIs are definitions (``defines_items``): creating, deleting or redefining
    # one is for managers and manage tokens; staff and write tokens change only progress.

    defines_items = True
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return self.selector()

    def authorship(self) -> dict:
        """Who writes (the user or the API token) and through which channel, for the definition services."""
        return {"author": request_author(self.request), "channel": ChangeChannel.API}

    def owner_team_id(self, data, item=None) -> int | None:
        team = data.get("owner_team")
        if team is not None:
            return team.pk
        if item is not None and "goal" not in data:
            return item.owner_team_id
        goal = data.get("goal")
        return goal.owner_team_id if goal is not None else (item.owner_team_id if item else None)

    def touched_team_ids(self, data, item=None) -> set[int | None]:
        """Every team whose items a write changes: the item's owner once written and, for a goal's child, the
        goal it is put in (that goal's status moves with it)."""
        teams = {self.owner_team_id(data, item)}
        goal = data.get("goal")
        if goal is not None and (item is None or goal.pk != getattr(item, "goal_id", None)):
            teams.add(goal.owner_team_id)
        return teams

    def cascade_team_ids(self, item) -> set[int | None]:
        """The teams owning what deleting ``item`` deletes with it; a goal's viewset names its children's."""
        return set()

    def check_teams(self, request, team_ids) -> None:
        for team_id in sorted(team_ids, key=lambda t: (t is None, t or 0)):
            self.check_team_permissions(request, team_id)

    def check_write(self, request, data, item=None) -> None:
        """403 unless the caller may write ``data`` (onto ``item``): by default, the teams the write touches."""
        self.check_teams(request, self.touched_team_ids(data, item))

    def detail_response(self, item, status_code=status.HTTP_200_OK, serializer_class=None):
        fresh = self.selector().get(pk=item.pk)
        data = (serializer_class or self.output_serializer_class)(fresh, context=self.get_serializer_context()).data
        headers = {"ETag": etag_for(fresh, self.request)} if hasattr(fresh, "version") else {}
        return Response(data, status=status_code, headers=headers)

    @property
    def output_serializer_class(self):
        return self.serializer_class

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.check_write(request, serializer.validated_data)
        if self.defines_items:
            ensure_can_change_definition(request)
        item, created = self.create_item(serializer.validated_data)
        return self.detail_response(item, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def update(self, request, *args, partial=False, **kwargs):
        item = self.get_object()
        expected_version = if_match_version(request, item)
        serializer = self.get_serializer(item, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        self.check_write(request, data, item)
        if self.defines_items:
            data = definition_checked(request, item, data)
        item = self.update_item(item, data, expected_version)
        return self.detail_response(item)

    def destroy(self, request, *args, **kwargs):
        item = self.get_object()
        expected_version = if_match_version(request, item)
        if self.defines_items:
            ensure_can_change_definition(request, item)
        self.check_teams(request, self.cascade_team_ids(item))
        self.delete_item(item, expected_version)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def upsert_by_external_id(self, request, model, source: str, external_id: str):
        """PUT by (source, external_id): update the item with that reference, or create it."""
        item = selectors.api_item_by_external_id(model, source=source, external_id=external_id)
        serializer_class = serializers.by_external_id(self.serializer_class)
        if item is not None:
            self.check_object_permissions(request, item)
            expected_version = if_match_version(request, item)
        serializer = serializer_class(item, data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        self.check_teams(request, self.touched_team_ids(data, item))
        if item is None:
            ensure_can_change_definition(request)
            item, _ = self.create_item({**data, "source": source, "external_id": external_id})
            return self.detail_response(item, status.HTTP_201_CREATED)
        data = definition_checked(request, item, data)
        return self.detail_response(self.update_item(item, data, expected_version))


BY_EXTERNAL_ID = {
    "methods": ["put"],
    "detail": False,
    # Any segment reaches the view, and the item's service refuses what its fields refuse with a 400 naming it (a
    # pattern's length limit here gave the site's HTML 404 to a reference one character too long).
    "url_path": r"by-external-id/(?P<source>[^/]+)/(?P<external_id>[^/]+)",
    "url_name": "by-external-id",
}


def _reference_parameter(model, name: str, description: str) -> OpenApiParameter:
    schema = {
        "type": "string",
        "minLength": 1,
        "maxLength": model._meta.get_field(name).max_length,
        "pattern": "^[^/]+$",
    }
    return OpenApiParameter(name, schema, OpenApiParameter.PATH, description=description)


def by_external_id_schema(serializer_class, noun: str):
    return extend_schema(
        summary=_("Create or update a %(noun)s by its external id") % {"noun": noun},
        parameters=[
            _reference_parameter(serializer_class.Meta.model, "source", _("Source system.")),
            _reference_parameter(serializer_class.Meta.model, "external_id", _("Its id there.")),
            IF_MATCH,
        ],
        request=serializers.by_external_id(serializer_class),
        responses={200: serializer_class, 201: serializer_class, 412: PRECONDITION_FAILED},
    )


@extend_schema_view(list=extend_schema(summary=_("Teams")))
class TeamViewSet(ReadOnlyViewSet):
    """Teams that own goals, milestones and KPIs."""

    serializer_class = serializers.TeamSerializer
    filterset_class = filtersets.TeamSyncFilterSet

    def get_queryset(self):
        return selectors.api_team_list()


@extend_schema_view(list=extend_schema(summary=_("Reporting units")), **write_schema(serializers.UnitSerializer))
class UnitViewSet(TrackedViewSet):
    """The register of reporting units shared by every plan: the nation, its provinces (or regions) and the zones.

    Everyone signed in reads it; managers and manage tokens without a team write it.
    """

    serializer_class = serializers.UnitSerializer
    filterset_class = filtersets.UnitSyncFilterSet

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return serializers.UnitUpdateSerializer
        return serializers.UnitSerializer

    def selector(self):
        return selectors.api_unit_list()

    def owner_team_id(self, data, item=None):
        return None  # the register belongs to no team: only who writes every team's items writes it

    def touched_team_ids(self, data, item=None):
        return {None}

    def cascade_team_ids(self, item):
        return {None}

    def create_item(self, data):
        return services.unit_create(**data), True

    def update_item(self, item, data, expected_version):
        return services.unit_update(unit=item, data=data, expected_version=expected_version)

    def delete_item(self, item, expected_version):
        services.unit_delete(unit=item, expected_version=expected_version, deleted_by=request_author(self.request))


class PlanViewSet(ReadOnlyViewSet):
    """Action plans with their computed status."""

    serializer_class = serializers.PlanSerializer
    filterset_class = filtersets.PlanSyncFilterSet

    def get_queryset(self):
        plans = selectors.api_plan_list()
        author = request_author(self.request)
        if author is None or not can_change_definition(author):
            plans = plans.exclude(state=PlanState.DRAFT)  # a draft is seen by managers only
        return plans


class FocusAreaViewSet(ReadOnlyViewSet):
    """Focus areas (strands) of the plans."""

    serializer_class = serializers.FocusAreaSerializer
    filterset_class = filtersets.FocusAreaSyncFilterSet

    def get_queryset(self):
        return selectors.api_focus_area_list()


@extend_schema_view(**write_schema(serializers.GoalSerializer))
class GoalViewSet(TrackedViewSet):
    """Goals of the focus areas; status, score and progress are computed."""

    serializer_class = serializers.GoalSerializer
    filterset_class = filtersets.GoalSyncFilterSet

    def selector(self):
        return selectors.api_goal_list()

    def cascade_team_ids(self, item):
        # Deleting a goal deletes its milestones and KPIs: other teams' among them are not the caller's to delete.
        return selectors.goal_child_team_ids(goal_id=item.pk)

    def create_item(self, data):
        return services.goal_create(data=data, **self.authorship()), True

    def update_item(self, item, data, expected_version):
        return services.goal_update(goal=item, data=data, expected_version=expected_version, **self.authorship())

    def delete_item(self, item, expected_version):
        services.goal_delete(
            goal=item,
            expected_version=expected_version,
            deleted_by=request_author(self.request),
            channel=ChangeChannel.API,
        )

    @by_external_id_schema(serializers.GoalSerializer, _("goal"))
    @action(**BY_EXTERNAL_ID)
    def by_external_id(self, request, source, external_id):
        return self.upsert_by_external_id(request, Goal, source, external_id)


@extend_schema_view(**write_schema(serializers.MilestoneSerializer))
class MilestoneViewSet(TrackedViewSet):
    """Dated deliverables of the goals; changes of progress are logged as milestone updates."""

    serializer_class = serializers.MilestoneSerializer
    filterset_class = filtersets.MilestoneSyncFilterSet

    def selector(self):
        return selectors.api_milestone_list()

    def create_item(self, data):
        data = dict(data)
        note = data.pop("note", "")
        return services.milestone_create(data=data, note=note, **self.authorship()), True

    def update_item(self, item, data, expected_version):
        data = dict(data)
        note = data.pop("note", "")
        return services.milestone_update(
            milestone=item, data=data, expected_version=expected_version, note=note, **self.authorship()
        )

    def delete_item(self, item, expected_version):
        services.milestone_delete(
            milestone=item,
            expected_version=expected_version,
            deleted_by=request_author(self.request),
            channel=ChangeChannel.API,
        )

    @by_external_id_schema(serializers.MilestoneSerializer, _("milestone"))
    @action(**BY_EXTERNAL_ID)
    def by_external_id(self, request, source, external_id):
        return self.upsert_by_external_id(request, Milestone, source, external_id)


@extend_schema_view(**write_schema(serializers.KPISerializer))
class KPIViewSet(TrackedViewSet):
    """KPIs with their targets, latest value, forecast and computed status."""

    serializer_class = serializers.KPISerializer
    filterset_class = filtersets.KPISyncFilterSet

    def selector(self):
        return selectors.api_kpi_list()

    def create_item(self, data):
        return services.kpi_create(data=data, **self.authorship()), True

    def update_item(self, item, data, expected_version):
        return services.kpi_update(kpi=item, data=data, expected_version=expected_version, **self.authorship())

    def delete_item(self, item, expected_version):
        services.kpi_delete(
            kpi=item,
            expected_version=expected_version,
            deleted_by=request_author(self.request),
            channel=ChangeChannel.API,
        )

    @by_external_id_schema(serializers.KPISerializer, _("KPI"))
    @action(**BY_EXTERNAL_ID)
    def by_external_id(self, request, source, external_id):
        return self.upsert_by_external_id(request, KPI, source, external_id)

    @extend_schema(
        summary=_("The KPI by province and zone: value, coverage and status of each unit in one period"),
        parameters=[
            OpenApiParameter(
                "period_end",
                OpenApiTypes.DATE,
                description=_("The period to show (its end date); by default the latest any unit has."),
            )
        ],
        responses={200: serializers.BreakdownSerializer},
    )
    @action(detail=True, methods=["get"], url_path="breakdown", url_name="breakdown")
    def breakdown(self, request, pk=None):
        """A zone reporter sees the provinces and the nation, and of the zones only their own."""
        kpi = self.get_object()
        period_end = None
        raw = request.query_params.get("period_end")
        if raw is not None:
            try:
                period_end = datetime.date.fromisoformat(raw)
            except ValueError as exc:
                raise ValidationError({"period_end": [_("Enter a date as YYYY-MM-DD.")]}) from exc
        period_end, rows = selectors.kpi_unit_breakdown(
            kpi_id=kpi.pk, period_end=period_end, zone_ids=unit_scope(request.user)
        )
        data = {"kpi": kpi.pk, "period_end": period_end, "units": rows}
        return Response(serializers.BreakdownSerializer(data).data)

    @extend_schema(
        summary=_("The KPI's reporting periods, their due dates and each unit's submission state"),
        responses={200: PeriodSerializer(many=True)},
        filters=False,
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def periods(self, request, pk=None):
        return kpi_periods_response(self.get_object())


@extend_schema_view(
    create=extend_schema(
        summary=_("Record a KPI value (upsert on KPI and date)"),
        description=_(
            "On a plan that reviews its figures (counting other than all), a value from a signed-in user or a "
            "non-authoritative token arrives as a submitted submission awaiting review (202); an authoritative "
            "token's value is approved on arrival (201). A value in an approved period is refused (409) unless "
            "a manager reopened it; it is then kept as a restatement."
        ),
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: serializers.MeasurementSerializer,
            201: serializers.MeasurementSerializer,
            202: ROUTED_RESPONSE,
        },
    ),
    update=extend_schema(
        parameters=[IF_MATCH],
        request=serializers.MeasurementUpdateSerializer,
        responses={200: serializers.MeasurementSerializer, 412: PRECONDITION_FAILED},
    ),
    partial_update=extend_schema(
        parameters=[IF_MATCH],
        request=serializers.MeasurementUpdateSerializer,
        responses={200: serializers.MeasurementSerializer, 412: PRECONDITION_FAILED},
    ),
    destroy=extend_schema(parameters=[IF_MATCH], responses={204: None, 412: PRECONDITION_FAILED}),
)
class MeasurementViewSet(TrackedViewSet):
    """Values of the KPIs by date; the API writes them with source 'api'."""

    serializer_class = serializers.MeasurementSerializer
    filterset_class = filtersets.MeasurementSyncFilterSet
    defines_items = False  # recorded values: staff and write tokens write their teams' measurements

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return serializers.MeasurementUpdateSerializer
        return serializers.MeasurementSerializer

    def selector(self):
        # Zone reporters and tokens with units read their units' figures and the national ones only.
        return selectors.api_measurement_list(visible=lambda rows: measurements_visible(self.request.user, rows))

    def owner_team_id(self, data, item=None):
        return data["kpi"].owner_team_id if "kpi" in data else item.owner_team_id

    def check_write(self, request, data, item=None) -> None:
        """Who writes which unit's figure (plans.permissions.measurement_write_refusal): a zone's own figures on
        any aggregating KPI for its reporters, the national ones by team as before, derived ones never."""
        unit_id = item.unit_id if item is not None else getattr(data.get("unit"), "pk", None)
        refusal = measurement_write_refusal(
            request.user,
            owner_team_id=self.owner_team_id(data, item),
            unit_id=unit_id,
            source=item.source if item is not None else MeasurementSource.API,
        )
        if refusal:
            self.permission_denied(request, message=refusal)

    def check_object_permissions(self, request, obj):
        # Updates and deletes: the unit rules above instead of the team rule alone (a reporter's own zone rows).
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        refusal = measurement_write_refusal(
            request.user, owner_team_id=obj.owner_team_id, unit_id=obj.unit_id, source=obj.source
        )
        if refusal:
            self.permission_denied(request, message=refusal)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.check_write(request, serializer.validated_data)
        routed = measurement_routed(request, serializer.validated_data)
        if routed is not None:
            return routed
        item, created = self.create_item(serializer.validated_data)
        return self.detail_response(item, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def create_item(self, data):
        result = services.measurement_record(
            kpi=data["kpi"],
            unit=data.get("unit"),
            date=data["date"],
            value=data.get("value"),
            numerator=data.get("numerator"),
            denominator=data.get("denominator"),
            note=data.get("note", ""),
            external_id=data.get("external_id", ""),
            source=MeasurementSource.API,
            recorded_by=request_author(self.request),
        )
        return result.measurement, result.outcome == "created"

    def update_item(self, item, data, expected_version):
        parts = {name: data[name] for name in ("numerator", "denominator") if name in data}
        return services.measurement_update(
            measurement=item,
            value=data.get("value", item.value),
            note=data.get("note"),
            external_id=data.get("external_id", ""),
            recorded_by=request_author(self.request),
            expected_version=expected_version,
            **parts,
        ).measurement

    def delete_item(self, item, expected_version):
        services.measurement_delete(
            measurement=item, expected_version=expected_version, deleted_by=request_author(self.request)
        )

    @extend_schema(
        summary=_("Create or update up to 10,000 measurements at once, all or nothing"),
        request=serializers.BulkMeasurementsSerializer,
        responses={200: serializers.BulkResultSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=False, methods=["post"], url_path="bulk", url_name="bulk", max_body_bytes=BULK_MAX_BODY_BYTES)
    @collection_paused  # 10,000 rows: parsed, checked against every series, written (plans.gcpause)
    def bulk(self, request):
        data, submit = request.data, False
        if isinstance(data, dict) and "submit" in data:
            data, submit = {k: v for k, v in data.items() if k != "submit"}, data["submit"]
            if not isinstance(submit, bool):
                raise ValidationError({"submit": [_("Send JSON true or false.")]})
        try:
            validated = measurements_bulk_validate(data)
        except ValidationError as exc:
            raise ValidationError(rows_by_index(exc.detail)) from exc
        rows = measurements_bulk_rows(request, validated)
        try:
            counts = measurements_bulk_routed(request, rows, submit=submit)
            if counts is None:
                counts = services.measurements_bulk_upsert(rows=rows, recorded_by=request_author(request))
        except services.MeasurementRowsInvalid as exc:
            raise ValidationError({"measurements": {str(i): errors for i, errors in exc.errors.items()}}) from exc
        return Response(counts)


def rows_by_index(errors: dict) -> dict:
    """DRF lists one entry per row, empty for valid rows; callers want only the bad rows, by index."""
    rows = errors.get("measurements")
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        errors = {**errors, "measurements": {str(i): row for i, row in enumerate(rows) if row}}
    return errors


@extend_schema_view(create=extend_schema(summary=_("Report milestone progress"), parameters=[IDEMPOTENCY_KEY]))
class MilestoneUpdateViewSet(ApiViewMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The progress log of the milestones (append-only)."""

    serializer_class = serializers.MilestoneUpdateSerializer
    filterset_class = filtersets.MilestoneUpdateSyncFilterSet

    def get_queryset(self):
        return selectors.api_milestone_update_list()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        self.check_team_permissions(request, data["milestone"].owner_team_id)
        update = services.milestone_progress_record(
            milestone=data["milestone"],
            percent_complete=data["percent_complete"],
            state=data["state"],
            note=data.get("note", ""),
            evidence_url=data.get("evidence_url", ""),
            completed_on=data.get("completed_on"),
            author=request_author(request),
        )
        output = self.get_serializer(self.get_queryset().get(pk=update.pk))
        return Response(output.data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary=_("Deleted items, for incremental sync")))
class DeletionViewSet(ApiViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Items deleted, for clients that sync: filter by updated_since like the other lists."""

    serializer_class = serializers.TombstoneSerializer
    filterset_class = filtersets.TombstoneSyncFilterSet
    sync_field = "deleted_at"

    def get_queryset(self):
        return selectors.api_tombstone_list()

    def paginate_queryset(self, queryset):
        # The query's own errors first (400: its filters, then its page size and cursor): only a valid query can
        # be told its sync is too old.
        page = super().paginate_queryset(queryset)
        # Tombstones are kept for TRACKER_TOMBSTONE_RETENTION_DAYS: a client whose last sync is older
        # would silently miss deletions, so it is told to start over (410) instead.
        since = filtersets.TombstoneSyncFilterSet(self.request.query_params).form
        if since.is_valid() and since.cleaned_data.get("updated_since"):
            horizon = timezone.now() - datetime.timedelta(days=settings.TRACKER_TOMBSTONE_RETENTION_DAYS)
            if since.cleaned_data["updated_since"] < horizon:
                raise SyncTooOld()
        return page


@extend_schema_view(list=extend_schema(summary=_("Changes of definitions: who changed which field, from what to what")))
class DefinitionChangeViewSet(ApiViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The history of plans, focus areas, goals, KPIs, milestones and teams, from every channel (append-only).

    Filter by ``item_type`` and ``item_id`` for one item's history; ``updated_since`` syncs like the other lists.
    """

    serializer_class = serializers.DefinitionChangeSerializer
    filterset_class = filtersets.DefinitionChangeSyncFilterSet
    sync_field = "changed_at"

    def get_queryset(self):
        return selectors.api_definition_change_list()
