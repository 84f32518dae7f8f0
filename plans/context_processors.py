"""Template context shared by every page."""

from django.utils.functional import SimpleLazyObject

from .permissions import is_manager
from .services.notifications import notification_unread_count


def unread_count(request) -> int:
    """The signed-in user's unread notification count, kept in the cache (``notification_unread_count``); 0 for
    anonymous visitors and API tokens, which have no notifications."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.pk is None:
        return 0
    return notification_unread_count(user.pk)


def notifications(request) -> dict:
    """``unread_count`` for the header badge, read only when the page shows it."""
    return {"notifications_unread": SimpleLazyObject(lambda: unread_count(request))}


# The viewer's role as of sign-in, kept in the session (read with it, no query): the header's "Manage" link.
ROLE_SESSION_KEY = "plans_is_manager"


def roles(request) -> dict:
    """``viewer_is_manager`` for the header's "Manage" link, from the session (set at sign-in, ``role_remember``).

    A session from before the key existed asks once (one query) and keeps the answer. The link only shows the
    way: the manage pages check the role on every request, so a role changed since sign-in is still enforced.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    session = getattr(request, "session", None)

    def manager() -> bool:
        if session is not None and ROLE_SESSION_KEY in session:
            return bool(session[ROLE_SESSION_KEY])
        answer = is_manager(user)
        if session is not None:
            session[ROLE_SESSION_KEY] = answer
        return answer

    return {"viewer_is_manager": SimpleLazyObject(manager)}


def role_remember(sender, request, user, **kwargs) -> None:
    """On sign-in, keep the user's role in the session for ``roles``."""
    if request is not None and hasattr(request, "session"):
        request.session[ROLE_SESSION_KEY] = is_manager(user)


def connect_signals() -> None:
    from django.contrib.auth.signals import user_logged_in

    user_logged_in.connect(role_remember, dispatch_uid="plans.role_remember")
