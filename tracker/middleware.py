"""Request and response hardening that no single view owns: bodies without a length, the content security
policy (with the one exemption the vendored API docs need), Permissions-Policy and private responses."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _

# Swagger UI and ReDoc (drf-spectacular-sidecar, served from our static files) style their widgets
# with inline styles and data: images, and ReDoc parses the schema in a blob: worker; DRF's browsable
# API has a few inline styles. Scripts still come from our own origin only (the one inline script of
# Swagger UI carries the request's nonce).
API_DOCS_PREFIXES = ("/api/docs/", "/api/redoc/")
API_DOCS_POLICY = {"style-src": [UNSAFE_INLINE], "img-src": ["data:"], "worker-src": [SELF, "blob:"]}
BROWSABLE_API_PREFIXES = ("/api/v1/",)
BROWSABLE_API_POLICY = {"style-src": [UNSAFE_INLINE]}
# Responses under these prefixes are never stored by a browser or a proxy, signed in or not.
PRIVATE_PREFIXES = ("/api/",)


class RequireContentLengthMiddleware:
    """A chunked body (no Content-Length) gets 411 Length Required.

    Django reads exactly Content-Length bytes of a body, so without one it would see an empty body, and a
    write would go ahead as if nothing had been sent.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
            return JsonResponse(
                {"detail": str(_("Send the request body with a Content-Length header (chunked bodies are refused)."))},
                status=411,
            )
        return self.get_response(request)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp with CONTENT_SECURITY_POLICY, loosened for styles (and the docs' workers) under /api/ only."""

    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        if request.path_info.startswith(API_DOCS_PREFIXES):
            parts.update = {**API_DOCS_POLICY, **(parts.update or {})}
        elif request.path_info.startswith(BROWSABLE_API_PREFIXES):
            parts.update = {**BROWSABLE_API_POLICY, **(parts.update or {})}
        return parts


class PrivateResponseMiddleware:
    """Permissions-Policy on every response; ``Cache-Control: no-store`` on every response to a signed-in
    user and on the API, so a shared computer's back button or a proxy never shows one user's plans to the
    next. Static files are served before this runs (WhiteNoise) and keep their long caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if request.path_info.startswith(PRIVATE_PREFIXES) or (user is not None and user.is_authenticated):
            response["Cache-Control"] = "no-store"
        return response
