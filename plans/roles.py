"""The two roles (groups created by migration 0002_roles) and the questions asked of them."""

from django.utils.translation import gettext_lazy as _

STAFF = "staff"
MANAGER = "manager"
ROLE_LABELS = {STAFF: _("Staff"), MANAGER: _("Manager")}


def is_manager(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.groups.filter(name=MANAGER).exists()))


def team_ids(user) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(user.teams.values_list("id", flat=True))


def can_update(user, item) -> bool:
    """Managers update everything; staff update the milestones and KPIs their teams own."""
    return is_manager(user) or (user.is_authenticated and item.owner_team_id in team_ids(user))
