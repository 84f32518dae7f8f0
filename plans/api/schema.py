"""The OpenAPI schema's shared parts: the error answers each operation really gives, and exact request bodies.

drf-spectacular documents the success answer of each view; the errors come from code every view shares
(authentication, throttling, the parsers, If-Match, Idempotency-Key, the exception handler), so they are
added here once, by what the operation takes, rather than by hand on each view. Request bodies are
closed (``additionalProperties: false``), as the serializers refuse unknown fields, and every id has
the range the server checks.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance
from rest_framework import serializers

from plans import filtersets
from plans.models.base import MAX_ID

from .expand import EXPAND_PARAMETER, EXPANDABLE, has_expandable
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .serializers import BulkMeasurementRowSerializer, StrictMixin

ERROR = ResolvedComponent(
    name="Error",
    type=ResolvedComponent.SCHEMA,
    object="Error",
    schema={
        "type": "object",
        "description": str(
            _("Why the request was refused: `detail`, or the messages by field name (rows of a bulk body by index).")
        ),
        "properties": {"detail": {"type": "string"}},
        "additionalProperties": True,
    },
)

ERRORS = {
    "400": _("The request is invalid: the messages say which parameter or field, and why; nothing was written."),
    "401": _("No valid credentials: send `Authorization: Token <key>` or sign in."),
    "403": _("The caller may not do this (read-only token, another team's item, or a definition change)."),
    "404": _("No item with this id."),
    "409": _("A concurrent write conflicts, or a request with this Idempotency-Key is still running: retry it."),
    "410": _("Deletions that old are no longer kept: sync everything again."),
    "412": _("If-Match does not match the item's ETag: it changed since you read it; nothing was written."),
    "413": _("The request body is too large."),
    "415": _("The body is not JSON (Content-Type: application/json)."),
    "422": _("This Idempotency-Key was already used with a different request."),
    "429": _("Too many requests: retry after the number of seconds in Retry-After."),
}
ID_RANGE = {"minimum": 1, "maximum": MAX_ID}
ETAG = {
    "ETag": {
        "schema": {"type": "string"},
        "description": str(_("The item's version, for If-Match on a later PUT, PATCH or DELETE.")),
    }
}
REPLAYED = {
    "Idempotent-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": str(_("Present when this is the stored answer to an earlier request with the same key.")),
    }
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": str(_("Seconds to wait."))}}
IGNORED = str(_("Read-only: accepted and ignored when sent."))


class TrackerAutoSchema(AutoSchema):
    def get_override_parameters(self):
        # ``expand`` on every read of a resource with an expandable field (lists and details).
        parameters = super().get_override_parameters()
        if self.method == "GET" and has_expandable(getattr(self.view, "serializer_class", None)):
            parameters = [*parameters, EXPAND_PARAMETER]
        return parameters

    def _map_basic_serializer(self, serializer, direction):
        # An expandable field is in a response only when asked for: documented, never required.
        schema = super()._map_basic_serializer(serializer, direction)
        if "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in EXPANDABLE]
        return schema

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        parameters = {parameter["name"]: parameter for parameter in operation.get("parameters", [])}
        if "id" in parameters and parameters["id"]["schema"].get("type") == "integer":
            parameters["id"]["schema"].update(ID_RANGE)
        responses = operation["responses"]
        for code in self.error_codes(parameters, has_body="requestBody" in operation):
            responses.setdefault(code, self.error_response(code))
        self.add_headers(responses, parameters)
        return operation

    def error_codes(self, parameters: dict, *, has_body: bool) -> list[str]:
        codes = ["401", "429"]
        writes = self.method not in ("GET", "HEAD", "OPTIONS")
        if has_body or any(parameter["in"] == "query" for parameter in parameters.values()):
            codes.append("400")
        if writes:
            codes.append("403")
        if "id" in parameters:
            codes.append("404")
        if has_body:
            codes += ["409", "413", "415"]
        if "If-Match" in parameters:
            codes.append("412")
        if IDEMPOTENCY_HEADER in parameters:
            codes += ["409", "422"]
        if getattr(self.view, "sync_field", None) == "deleted_at":
            codes.append("410")
        return sorted(set(codes))

    def error_response(self, code: str) -> dict:
        self.registry.register_on_missing(ERROR)
        response = {"description": str(ERRORS[code]), "content": {"application/json": {"schema": ERROR.ref}}}
        if code == "429":
            response["headers"] = RETRY_AFTER
        return response

    def add_headers(self, responses: dict, parameters: dict) -> None:
        # Items with a version answer with their ETag (plans/api/conditional.py); POSTs with a key may be replays.
        model = getattr(getattr(self.view, "serializer_class", None), "Meta", None)
        model = getattr(model, "model", None)
        versioned = model is not None and any(f.name == "version" for f in model._meta.get_fields())
        path_names = {name for name, parameter in parameters.items() if parameter["in"] == "path"}
        detail = bool(path_names) or self.method == "POST"
        for code in ("200", "201"):
            if code not in responses:
                continue
            headers = responses[code].setdefault("headers", {})
            if versioned and detail and self.path.rstrip("/").rsplit("/", 1)[-1] != "bulk":
                headers.update(ETAG)
            if IDEMPOTENCY_HEADER in parameters:
                headers.update(REPLAYED)
            if not headers:
                del responses[code]["headers"]

    def _get_filter_parameters(self):
        """The filters' own bounds: ids in range, text within its length; an empty value is refused (400)."""
        parameters = super()._get_filter_parameters()
        filterset_class = getattr(self.view, "filterset_class", None)
        filters = filterset_class.base_filters if filterset_class else {}
        for parameter in parameters:
            schema, item = parameter["schema"], filters.get(parameter["name"])
            if isinstance(item, filtersets.IdFilter | filtersets.ItemChoiceFilter):
                schema.update(ID_RANGE)
            elif schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
                schema["minLength"] = 1
                max_length = item.extra.get("max_length") if item is not None else None
                if max_length:
                    schema["maxLength"] = max_length
        return parameters

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if not isinstance(schema, dict):
            return schema
        if isinstance(field, serializers.PrimaryKeyRelatedField):
            schema.update(ID_RANGE)
        if isinstance(field, serializers.DecimalField) and "pattern" in schema and field.max_whole_digits:
            # drf-spectacular's pattern also matches "", "-" and ".", which are not numbers.
            whole, places = field.max_whole_digits, field.decimal_places
            schema["pattern"] = rf"^-?(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"
        if isinstance(field, serializers.ListSerializer):
            if not field.allow_empty:
                schema["minItems"] = 1
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        return schema

    def _postprocess_serializer_schema(self, schema, serializer, direction):
        schema = super()._postprocess_serializer_schema(schema, serializer, direction)
        serializer = force_instance(serializer)
        if direction == "request" and isinstance(serializer, StrictMixin):
            # The serializers refuse unknown fields but take read-only ones (a client may send back what it read).
            properties = schema.setdefault("properties", {})
            for name, field in serializer.fields.items():
                if field.read_only and name not in properties:
                    properties[name] = {"description": IGNORED}
            schema["additionalProperties"] = False
            if isinstance(serializer, BulkMeasurementRowSerializer):
                # validate() takes exactly one of the two ways to name the KPI.
                schema["oneOf"] = [{"required": ["kpi"]}, {"required": ["kpi_external_id"]}]
        return schema
