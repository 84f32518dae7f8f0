"""The site's addresses plus two views that fail on purpose, for the error page tests (tests/test_error_pages.py)."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from tracker.urls import urlpatterns as site_urlpatterns


def refuse(request):
    raise PermissionDenied("Only managers reopen periods.")


def fail(request):
    raise RuntimeError("a bug")


urlpatterns = [path("test-errors/403/", refuse), path("test-errors/500/", fail), *site_urlpatterns]
