"""The API's content negotiation: DRF's, answered without parsing the Accept header when a client asks for what
nearly every sync client asks (no header, ``*/*``, or exactly the first renderer's media type)."""

from rest_framework.negotiation import DefaultContentNegotiation


class FirstRendererNegotiation(DefaultContentNegotiation):
    """``DefaultContentNegotiation``, whose answer for an Accept header that is absent or ``*/*`` is the first
    renderer with its own media type, and for exactly that media type the same: given here at once. Parsing the
    header (and the query string, for ``?format=``) and ranking its media types cost a token's trivial JSON detail
    about 4% of its time, 1.70x -> 1.64x the trivial view (``benchmarks/scale_bench.py``'s figure, in two A/B pairs);
    any other header, a format suffix or a ``?format=`` goes through DRF's negotiation."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if renderers and not format_suffix:
            first = renderers[0]
            accept = request.META.get("HTTP_ACCEPT", "*/*")
            if (accept == "*/*" or accept == first.media_type) and not self._format_asked(request):
                return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)

    def _format_asked(self, request) -> bool:
        """Whether the query string holds a format override (without parsing an absent query string)."""
        return bool(request.META.get("QUERY_STRING")) and self.settings.URL_FORMAT_OVERRIDE in request.query_params
