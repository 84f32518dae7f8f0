"""Keyset pagination over (updated_at, id), for incremental sync while others write.

A page is "rows after the last (updated_at, id) seen", never an offset: a row written between two
pages gets a newer updated_at and so shows up on a later page, and a deleted row shifts nothing.
The last page gives ``next_updated_since`` for the next sync; it reaches back ``SYNC_OVERLAP``
so rows from transactions that committed after this read, with an earlier updated_at, are not lost.
Clients upsert by id, so seeing a row twice is harmless.
"""

import base64
import datetime
import json

from django.db.models import Q
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

SYNC_OVERLAP = datetime.timedelta(seconds=30)


def encode_cursor(moment: datetime.datetime, pk: int) -> str:
    raw = json.dumps([moment.isoformat(), pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime.datetime, int]:
    try:
        moment, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        parsed = parse_datetime(moment)
        if parsed is None or parsed.tzinfo is None or not isinstance(pk, int) or not 0 <= pk < 2**63:
            raise ValueError(cursor)
        return parsed.astimezone(datetime.UTC), pk
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError) as exc:
        raise exceptions.ValidationError({"cursor": [_("Invalid cursor.")]}) from exc


class SyncCursorPagination(BasePagination):
    page_size = 100
    max_page_size = 1000
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        try:
            size = int(raw) if raw is not None else self.page_size
        except ValueError as exc:
            raise exceptions.ValidationError({self.page_size_query_param: [_("Enter a whole number.")]}) from exc
        if not 1 <= size <= self.max_page_size:
            message = _("Between 1 and %(max)d.") % {"max": self.max_page_size}
            raise exceptions.ValidationError({self.page_size_query_param: [message]})
        return size

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.field = getattr(view, "sync_field", "updated_at")
        size = self.get_page_size(request)
        cursor = request.query_params.get(self.cursor_query_param)
        self.position = decode_cursor(cursor) if cursor else None
        queryset = queryset.order_by(self.field, "id")
        if self.position:
            moment, pk = self.position
            queryset = queryset.filter(Q(**{f"{self.field}__gt": moment}) | Q(**{self.field: moment, "id__gt": pk}))
        rows = list(queryset[: size + 1])
        self.has_next = len(rows) > size
        self.page = rows[:size]
        return self.page

    def last_position(self) -> tuple[datetime.datetime, int] | None:
        if self.page:
            last = self.page[-1]
            return getattr(last, self.field), last.pk
        return self.position

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        moment, pk = self.last_position()
        return replace_query_param(
            self.request.build_absolute_uri(), self.cursor_query_param, encode_cursor(moment, pk)
        )

    def get_next_updated_since(self) -> str | None:
        if self.has_next:
            return None
        position = self.last_position()
        if position is None:
            since = self.request.query_params.get("updated_since")
            return since if since and parse_datetime(since) else None
        return (position[0] - SYNC_OVERLAP).isoformat()

    def get_paginated_response(self, data):
        return Response(
            {"next": self.get_next_link(), "next_updated_since": self.get_next_updated_since(), "results": data}
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "next_updated_since", "results"],
            "properties": {
                "next": {"type": "string", "format": "uri", "nullable": True},
                "next_updated_since": {
                    "type": "string",
                    "nullable": True,
                    "description": str(_("On the last page: the updated_since to send at the next sync.")),
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": str(_("The pagination cursor, from the previous page's next link.")),
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": str(_("Number of results per page.")),
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

    def to_html(self):  # the browsable API shows no page links
        return ""


__all__ = ["SyncCursorPagination", "decode_cursor", "encode_cursor"]
