"""A live server that runs one request at a time when its threads share an in-memory SQLite connection.

Django's live server is threaded, and on an in-memory SQLite database every request thread is handed the test's
own connection (``connections_override``): nothing else would see the test's data. Two requests at once, such as
the dashboard's lazy panels fetched side by side by the browser, then use one ``sqlite3`` connection from two
threads, and a browser test hung there for good. Serialising the requests (not the connections: a keep-alive
connection may idle between its requests) keeps the threaded server and makes that case safe. On PostgreSQL, or
any database each thread connects to itself, nothing changes.
"""

import threading

from django.core.servers.basehttp import ThreadedWSGIServer


class _ReleaseOnClose:
    """The response body of a serialised request: the lock is held until the server has sent it and closed it,
    since a streaming body (CSV exports) reads the database while it is sent."""

    def __init__(self, body, lock: threading.Lock):
        self._body, self._lock, self._released = body, lock, False

    def __iter__(self):
        return iter(self._body)

    def close(self):
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            if not self._released:
                self._released = True
                self._lock.release()


class _OneAtATime:
    def __init__(self, app):
        self._app, self._lock = app, threading.Lock()

    def __call__(self, environ, start_response):
        self._lock.acquire()
        try:
            body = self._app(environ, start_response)
        except BaseException:
            self._lock.release()
            raise
        return _ReleaseOnClose(body, self._lock)


class SharedConnectionSafeServer(ThreadedWSGIServer):
    def set_app(self, application):
        super().set_app(_OneAtATime(application) if self.connections_override else application)
