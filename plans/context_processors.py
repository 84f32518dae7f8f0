"""Template context shared by every page."""

from django.utils.functional import SimpleLazyObject

from .models import Notification


def notifications(request) -> dict:
    """The signed-in user's unread notification count, for the header badge: one query, only when the page
    shows it, and none for anonymous visitors (or API tokens, which have no notifications)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.pk is None:
        return {"notifications_unread": 0}
    return {
        "notifications_unread": SimpleLazyObject(
            lambda: Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).count()
        )
    }
