"""The site's URLs plus two DRF views that read no row, for the API floor of scale_bench.py (``api_floor``).

``/bench/bare/`` has no authentication, permission or throttle; ``/bench/token/`` only checks the token. Measured
through the test Client like ``/healthz``, they show what any endpoint on this stack costs before its own work.
"""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from plans.api.authentication import TokenAuthentication
from tracker.urls import urlpatterns as site


class Bare(APIView):
    authentication_classes, permission_classes, throttle_classes = [], [], []

    def get(self, request):
        return Response({"ok": True})


class TokenOnly(Bare):
    authentication_classes, permission_classes = [TokenAuthentication], [IsAuthenticated]


urlpatterns = [path("bench/bare/", Bare.as_view()), path("bench/token/", TokenOnly.as_view()), *site]
