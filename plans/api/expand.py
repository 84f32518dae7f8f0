"""``?expand=explanation``: the full status explanation only for callers who ask for it.

An explanation lists the points behind a status (tens of KB per KPI at national scale), so a list page of
100 KPIs carrying them weighed 2.7 MB. Lists and details therefore leave ``explanation`` out unless
``?expand=explanation`` is given; the same rule on both keeps a row the same whichever route returns it.
Without the field the column is not even read from the database.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions

EXPAND_PARAM = "expand"
EXPANDABLE = frozenset({"explanation"})
EXPAND_PARAMETER = OpenApiParameter(
    EXPAND_PARAM,
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    enum=sorted(EXPANDABLE),
    description=_(
        "explanation: include each item's full status explanation (left out by default: it is large). "
        "Comma-separated for several."
    ),
)


def expanded_fields(request) -> frozenset[str]:
    """The fields ``?expand=`` asks for; 400 naming the accepted values for anything else."""
    values = request.query_params.getlist(EXPAND_PARAM) if request is not None else []
    # A blank value is an error, as an empty filter value is (plans.api.filters): a client that sends
    # ``?expand=`` has lost its value on the way, and the schema's enum does not admit it either.
    if any(not value.strip() for value in values):
        raise exceptions.ValidationError({EXPAND_PARAM: [_("This value may not be blank.")]})
    raw = values[-1] if values else ""
    asked = frozenset(name.strip() for name in raw.split(",") if name.strip())
    unknown = sorted(asked - EXPANDABLE)
    if unknown:
        message = _("Unknown value %(values)s; accepted: %(accepted)s.") % {
            "values": ", ".join(unknown),
            "accepted": ", ".join(sorted(EXPANDABLE)),
        }
        raise exceptions.ValidationError({EXPAND_PARAM: [message]})
    return asked


def has_expandable(serializer_class) -> bool:
    fields = getattr(getattr(serializer_class, "Meta", None), "fields", ())
    return bool(EXPANDABLE & set(fields))
