"""In-app notifications: marking them read (they are created by the services that notify, e.g. reminders)."""

from django.db import transaction
from django.utils import timezone

from ..models import Notification


@transaction.atomic
def notification_mark_read(*, user, notification_id: int) -> bool:
    """Mark one of ``user``'s notifications read; False when ``user`` has no such notification (or none unread)."""
    return bool(
        Notification.objects.filter(pk=notification_id, recipient_id=user.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
    )


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    """Mark all of ``user``'s unread notifications read; how many were."""
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).update(read_at=timezone.now())
