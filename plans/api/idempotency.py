"""``Idempotency-Key`` on POST: the first response is stored and replayed for the same key and body.

Keys belong to the caller (a token or a user) and expire after ``KEY_LIFETIME``. A POST with a key
runs in one transaction with its claim and its stored response, so the write and the record of it
commit together or not at all: a crash in between leaves neither, and the retry simply runs. A
concurrent request with the same key waits on the claim's unique index and then gets 409; a request
that ends in a server error rolls back, releasing its key.
"""

import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from plans.models import IdempotencyKey

from .authentication import api_token
from .exceptions import Conflict, IdempotencyKeyReused

HEADER = "Idempotency-Key"
KEY_LIFETIME = IdempotencyKey.LIFETIME
MAX_KEY_LENGTH = 255


class _Replay(Exception):
    def __init__(self, record: IdempotencyKey):
        self.record = record


def actor_for(request) -> str:
    token = api_token(request)
    return f"token:{token.pk}" if token is not None else f"user:{request.user.pk}"


def request_digest(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), cls=JSONEncoder)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotency_claim(*, actor: str, key: str, digest: str) -> IdempotencyKey:
    """Claim ``key`` for a new request; raises _Replay, 422 or 409 when it was used before."""
    record = IdempotencyKey.objects.filter(actor=actor, key=key).first()
    if record is not None and record.created_at < timezone.now() - KEY_LIFETIME:
        record.delete()
        record = None
    if record is not None:
        if record.request_hash != digest:
            raise IdempotencyKeyReused()
        if record.response_status is None:
            raise Conflict(_("A request with this Idempotency-Key is still running."))
        raise _Replay(record)
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(actor=actor, key=key, request_hash=digest)
    except IntegrityError as exc:
        raise Conflict(_("A request with this Idempotency-Key is still running.")) from exc


def idempotency_store(record: IdempotencyKey, response) -> None:
    """Keep the response to replay; part of the request's transaction, so it commits with the write."""
    data = getattr(response, "data", None)
    body = "" if data is None else json.dumps(data, cls=JSONEncoder)
    IdempotencyKey.objects.filter(pk=record.pk).update(response_status=response.status_code, response_body=body)


class IdempotentPostMixin:
    """For API views: honours ``Idempotency-Key`` on every POST."""

    _idempotency_record = None

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST" and request.headers.get(HEADER):
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.headers.get(HEADER)
        if request.method != "POST" or not key:
            return
        if len(key) > MAX_KEY_LENGTH:
            message = _("At most %(max)d characters.") % {"max": MAX_KEY_LENGTH}
            raise exceptions.ValidationError({HEADER: [message]})
        self._idempotency_record = idempotency_claim(actor=actor_for(request), key=key, digest=request_digest(request))

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            record = exc.record
            data = json.loads(record.response_body) if record.response_body else None
            return Response(data, status=record.response_status, headers={"Idempotent-Replayed": "true"})
        try:
            return super().handle_exception(exc)
        except Exception:
            self._idempotency_release()
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None:
            if response.status_code >= 500:
                record.delete()
            else:
                idempotency_store(record, response)
        return response

    def _idempotency_release(self) -> None:
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None:
            record.delete()
