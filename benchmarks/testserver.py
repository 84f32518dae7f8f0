"""The test Client's host for the benchmarks, without the rest of ``setup_test_environment``.

``setup_test_environment`` also instruments every template render so that the test Client can copy each
template's context (``response.context``): a page of many includes then measured that copying, which production
never does, while the trivial view it is compared with renders no template. The benchmarks allow the host only.
"""

from django.conf import settings


def allow_test_client() -> None:
    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
