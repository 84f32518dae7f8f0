"""In-app notifications: the unread count of the header badge, and marking them read (they are created by the
services that notify, e.g. reminders, which call ``notifications_changed``).

The count is kept in the cache (Redis with REDIS_URL), so a warm page reads no notification row; every write
of a user's notifications forgets it after commit. Without the cache the count is read from the database.
"""

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from ..failopen import fail_open
from ..models import Notification

_UNREAD_KEY = "notifications-unread:{user_id}"
_UNREAD_TIMEOUT = 24 * 60 * 60


def notification_unread_count(user_id: int) -> int:
    """How many of the user's notifications are unread: from the cache, else counted and kept."""
    key = _UNREAD_KEY.format(user_id=user_id)
    count = fail_open(lambda: cache.get(key), None, "unread count of user %s not read", user_id)
    if count is None:
        count = Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()
        fail_open(lambda: cache.set(key, count, _UNREAD_TIMEOUT), None, "unread count of user %s not kept", user_id)
    return count


def notifications_changed(user_ids) -> None:
    """Forget the kept unread counts of ``user_ids`` now and again once the transaction that changed their
    notifications commits (a page read in between may have kept the old count)."""
    keys = [_UNREAD_KEY.format(user_id=user_id) for user_id in user_ids]

    def forget():
        fail_open(lambda: cache.delete_many(keys), None, "unread counts not forgotten")

    forget()
    transaction.on_commit(forget)


@transaction.atomic
def notification_mark_read(*, user, notification_id: int) -> bool:
    """Mark one of ``user``'s notifications read; False when ``user`` has no such notification (or none unread)."""
    notifications_changed([user.pk])
    return bool(
        Notification.objects.filter(pk=notification_id, recipient_id=user.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
    )


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    """Mark all of ``user``'s unread notifications read; how many were."""
    notifications_changed([user.pk])
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).update(read_at=timezone.now())


def _saved_or_deleted(sender, instance, **kwargs):
    notifications_changed([instance.recipient_id])


def connect_signals() -> None:
    """A notification saved or deleted one by one anywhere (the admin, a test) forgets its recipient's count;
    the services' set-based writes call ``notifications_changed`` themselves."""
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_saved_or_deleted, sender=Notification, dispatch_uid="notifications-unread-save")
    post_delete.connect(_saved_or_deleted, sender=Notification, dispatch_uid="notifications-unread-delete")
