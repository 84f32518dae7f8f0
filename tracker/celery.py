"""The Celery app: configured from Django settings (CELERY_*), tasks discovered in installed apps."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.local")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # A write whose enqueue was lost (broker down, worker killed) is caught up within a minute or two,
    # not at night. A run beat queued while no worker consumed is dropped rather than run in a pile.
    "recompute-stale-plans": {
        "task": "plans.tasks.recompute_stale_plans",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "recompute-all-plans-nightly": {
        "task": "plans.tasks.recompute_all_plans",
        "schedule": crontab(hour=1, minute=5),
    },
    # Reminders go out at 08:00 in TIME_ZONE (CELERY_TIMEZONE; Asia/Shanghai by default). A run is idempotent,
    # so a second beat or a redelivery sends nothing twice; one queued all day without a worker is dropped.
    "send-reminders-daily": {
        "task": "plans.tasks.send_reminders",
        "schedule": crontab(hour=8, minute=0),
        "options": {"expires": 6 * 3600},
    },
    # The PDF briefing of the month just ended, to the managers: on the 1st, after the night's recompute has
    # written the month-end snapshots. Idempotent per plan and month; one queued all day without a worker is dropped.
    "send-briefings-monthly": {
        "task": "plans.tasks.send_briefings",
        "schedule": crontab(day_of_month=1, hour=8, minute=30),
        "options": {"expires": 20 * 3600},
    },
    "housekeeping-nightly": {
        "task": "plans.tasks.housekeeping",
        "schedule": crontab(hour=2, minute=35),
    },
}
