"""Template context shared by every page."""

from django.utils.functional import SimpleLazyObject

from .permissions import is_manager_lazy
from .services.notifications import notification_unread_count


def notifications(request) -> dict:
    """The signed-in user's unread notification count, for the header badge: kept in the cache
    (``notification_unread_count``), read only when the page shows it, and not for anonymous visitors (or API
    tokens, which have no notifications)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.pk is None:
        return {"notifications_unread": 0}
    return {"notifications_unread": SimpleLazyObject(lambda: notification_unread_count(user.pk))}


def roles(request) -> dict:
    """``viewer_is_manager`` for the header's "Manage" link: asked (one query) only when a page reads it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"viewer_is_manager": is_manager_lazy(user)}
