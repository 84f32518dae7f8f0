"""API errors beyond DRF's own, and the handler that turns domain exceptions into them (never a 500)."""

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings

from plans.exceptions import PeriodLocked, PlanClosed, StaleVersionError, SubmissionRefused


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _("The item changed since you read it (If-Match does not match its ETag).")
    default_code = "precondition_failed"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The request conflicts with a concurrent write; retry it.")
    default_code = "conflict"


class SyncTooOld(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = _("Deletions that old are no longer kept: sync everything again, then continue from now.")
    default_code = "sync_too_old"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used with a different request.")
    default_code = "idempotency_key_reused"


def api_exception_handler(exc, context):
    # Imported here: rest_framework.views loads the parser classes, and the JSON parser raises PayloadTooLarge.
    from rest_framework.views import exception_handler

    if isinstance(exc, DjangoValidationError):
        detail = as_serializer_error(exc)
        if NON_FIELD_ERRORS in detail:
            detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, StaleVersionError):
        exc = PreconditionFailed()
    elif isinstance(exc, PeriodLocked | SubmissionRefused):
        # The message says why and, for a locked period, how to reopen it.
        exc = Conflict(detail=str(exc), code="period_locked" if isinstance(exc, PeriodLocked) else "not_allowed_now")
    elif isinstance(exc, PlanClosed):
        exc = Conflict(detail=str(exc), code="plan_closed")
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, IntegrityError):
        exc = Conflict()
    elif isinstance(exc, DataError):
        exc = exceptions.ValidationError({"non_field_errors": [_("A value is out of range for its field.")]})
    return exception_handler(exc, context)
