"""Local development: DEBUG on unless DJANGO_DEBUG says otherwise."""

import os

os.environ.setdefault("DJANGO_DEBUG", "on")

from .base import *  # noqa: E402,F403

WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
