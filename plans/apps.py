"""The plans app: registers its Celery tasks when Django starts."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "plans"
    verbose_name = _("Action plans")

    def ready(self):
        # Registers the Celery tasks in every process, not only in workers: the recompute queue
        # publishes them by name (plans.recompute_queue.RECOMPUTE_TASK).
        from django.db.models.signals import post_migrate

        from . import lookups, tasks  # noqa: F401  (field__any; the tasks by name)
        from .context_processors import connect_signals as connect_role_signals
        from .language import connect_signals as connect_language_signals
        from .read_cache import install_on_migrate
        from .services.notifications import connect_signals as connect_notification_signals
        from .user_cache import connect_signals as connect_user_cache_signals
        from .views.pagecache import connect_signals

        connect_signals()
        connect_notification_signals()
        connect_language_signals()
        connect_role_signals()
        connect_user_cache_signals()
        post_migrate.connect(install_on_migrate, dispatch_uid="plans.read_cache")
