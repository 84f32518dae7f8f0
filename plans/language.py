"""The interface language a signed-in person chose, remembered across sessions and devices.

Anonymous pages and the API follow the browser (Django's LocaleMiddleware: the language cookie, then
``Accept-Language``). A signed-in person's choice is stored (``UserLanguage``) when they use the switcher,
copied into their session when they sign in, and applied on every request from the session, so no page
pays a query for it. Under ``/api/`` an explicit ``Accept-Language`` header still wins: a script asks
for the language it wants.
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.utils import translation

SESSION_KEY = "tracker_language"
API_PREFIX = "/api/"


def supported(code: str | None) -> str | None:
    """``code`` if it is one of the site's languages, else None."""
    codes = {code for code, _name in settings.LANGUAGES}
    return code if code in codes else None


def remember(request, code: str) -> None:
    """Store ``code`` as the signed-in person's language (and in their session)."""
    from .models import UserLanguage

    UserLanguage.objects.update_or_create(user=request.user, defaults={"language": code})
    request.session[SESSION_KEY] = code


def _on_sign_in(sender, request, user, **kwargs):
    """At sign-in the stored choice goes into the session; a person without one keeps the language the
    sign-in page was shown in if they picked it there (the cookie), and it is stored for next time."""
    from .models import UserLanguage

    if request is None or not hasattr(request, "session"):
        return
    stored = UserLanguage.objects.filter(user=user).values_list("language", flat=True).first()
    code = supported(stored)
    if code is None:
        code = supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        if code is None:
            return
        UserLanguage.objects.update_or_create(user=user, defaults={"language": code})
    request.session[SESSION_KEY] = code
    translation.activate(code)
    request.LANGUAGE_CODE = code


def connect_signals() -> None:
    user_logged_in.connect(_on_sign_in, dispatch_uid="plans.language.sign_in")


class UserLanguageMiddleware:
    """After authentication: a signed-in person's pages in their chosen language (from the session)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            explicit_api = request.path_info.startswith(API_PREFIX) and request.META.get("HTTP_ACCEPT_LANGUAGE")
            code = supported(request.session.get(SESSION_KEY))
            if code and not explicit_api:
                translation.activate(code)
                request.LANGUAGE_CODE = code
                response = self.get_response(request)
                if request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != code:
                    set_cookie(response, code)  # the sign-in page, after signing out, stays in this language
                return response
        return self.get_response(request)


def set_cookie(response, code: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
