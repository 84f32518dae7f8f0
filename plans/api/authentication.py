"""``Authorization: Token <key>`` for external systems; keys are looked up by their SHA-256."""

import datetime
import functools

from django.db import connections, router
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from plans.models import ApiToken
from plans.read_cache import read_cache

# Recording every request's time would turn each read into a write; once a minute is enough to audit.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


class TokenUser:
    """The caller behind a token: authenticated, but no row in the user table (``pk`` is None)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ApiToken):
        self.token = token

    def __str__(self):
        return f"token:{self.token.name}"

    def get_username(self) -> str:
        return str(self)


def api_token(request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


def request_user(request):
    """The user to record as author of a write: None for tokens."""
    return request.user if request.user.is_authenticated and request.user.pk is not None else None


def request_author(request):
    """The author of a write, as the services take it: the signed-in user, or the API token."""
    return api_token(request) or request_user(request)


TOKEN_FIELDS = ("id", "name", "prefix", "scope", "team_id", "last_used_at", "revoked_at")


@functools.cache
def _token_query(alias: str) -> tuple[str, tuple[str, ...], tuple]:
    """The lookup's SQL, the attnames it reads in the model's field order (what ``from_db`` takes), and their
    columns (for the database converters a raw cursor skips: SQLite returns naive datetimes)."""
    quote = connections[alias].ops.quote_name
    fields = [f for f in ApiToken._meta.concrete_fields if f.attname in TOKEN_FIELDS]
    columns = ", ".join(quote(f.column) for f in fields)
    sql = (
        f"SELECT {columns} FROM {quote(ApiToken._meta.db_table)} "
        f"WHERE {quote(ApiToken._meta.get_field('key_hash').column)} = %s "
        f"AND {quote(ApiToken._meta.get_field('revoked_at').column)} IS NULL"
    )
    return sql, tuple(f.attname for f in fields), tuple(f.get_col(ApiToken._meta.db_table) for f in fields)


def token_active_get(*, key_hash: str) -> ApiToken | None:
    """The unrevoked token with this key hash, as of this request: from this process's memory while nothing has
    changed since it was read there (``plans.read_cache``: a revocation, by the admin or any process, takes effect
    at once), else from the database. The SQL is composed once: building the ORM query cost three times its round
    trip (the unique index answers it in a fraction of a millisecond), and this runs before every API request."""
    alias = router.db_for_read(ApiToken)
    sql, attnames, columns = _token_query(alias)
    generation = read_cache.generation()
    values = read_cache.get(("token", key_hash), generation)
    if values is None:
        values = _token_row(connections[alias], sql, columns, key_hash)
        if values is None:
            return None
        read_cache.put(("token", key_hash), values, generation)
    return ApiToken.from_db(alias, attnames, list(values))


def _token_row(connection, sql: str, columns: tuple, key_hash: str) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, column in enumerate(columns):
        for convert in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
            values[index] = convert(values[index], column, connection)
    return tuple(values)


def _token_used(token: ApiToken, key_hash: str, now) -> None:
    """Record the token's use (``LAST_USED_RESOLUTION``). The column notifies no change (``read_cache.QUIET_COLUMNS``):
    the kept token learns it here, each process writing it at most once a minute."""
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
    generation = read_cache.generation()
    values = read_cache.get(("token", key_hash), generation)
    if values is not None:
        _, attnames, _ = _token_query(token._state.db)
        at = attnames.index("last_used_at")
        read_cache.put(("token", key_hash), (*values[:at], now, *values[at + 1 :]), generation)


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header: send 'Token <key>'."))
        try:
            key = parts[1].decode("ascii")
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token header.")) from exc
        key_hash = ApiToken.hash_key(key)
        token = token_active_get(key_hash=key_hash)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            _token_used(token, key_hash, now)
        return TokenUser(token), token

    def authenticate_header(self, request):
        return self.keyword


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": str(_("Token-based authentication: 'Token <key>' (python manage.py create_api_token).")),
        }
