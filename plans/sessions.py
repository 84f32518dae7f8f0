"""Sessions read from the cache and written to both the database and the cache (Django's ``cached_db``), so a
warm page reads no session row and a flushed cache loses no session; failing open when the cache is down (Django's
own store fails the request when it cannot keep a session it read from the database, or drop one at sign-out)."""

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.db import SessionStore as DBStore

from .failopen import Breaker, fail_open

_breaker = Breaker(seconds=30)


class SessionStore(cached_db.SessionStore):
    def load(self):
        data = fail_open(lambda: self._cache.get(self.cache_key), None, "session not read", breaker=_breaker)
        if data is not None:
            return data
        row = self._get_session_from_db()
        if not row:
            return {}
        data = self.decode(row.session_data)
        expiry = self.get_expiry_age(expiry=row.expire_date)
        fail_open(lambda: self._cache.set(self.cache_key, data, expiry), None, "session not kept", breaker=_breaker)
        return data

    def delete(self, session_key=None):
        DBStore.delete(self, session_key)
        session_key = session_key or self.session_key
        if session_key is not None:
            key = self.cache_key_prefix + session_key
            fail_open(lambda: self._cache.delete(key), None, "session not dropped", breaker=_breaker)
