"""The domain's exceptions: what a service raises when it refuses a write."""

from django.utils.translation import gettext_lazy as _


class StaleVersionError(Exception):
    """The item changed since the caller read it (optimistic concurrency); ``current`` is the newer row."""

    def __init__(self, current, changed_by=None, changed_at=None):
        self.current = current
        self.changed_by = changed_by
        self.changed_at = changed_at
        super().__init__(_("This item was changed by someone else since you opened it."))


class PlanClosed(Exception):
    """A write into a closed plan: its figures are final and nothing in it changes any more."""

    def __init__(self, plan):
        self.plan = plan
        super().__init__(
            _("The plan “%(plan)s” is closed: its figures are final and it can no longer be changed.")
            % {"plan": plan.name}
        )


class MeasurementRowsInvalid(Exception):
    """Rows of a bulk upsert that cannot be written: ``errors`` maps a row index to {field: [messages]}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        self.errors = errors
        super().__init__(_("Some rows are invalid; nothing was written."))


class PeriodLocked(Exception):
    """A write into a reporting period whose submission is approved and that no manager has reopened."""

    def __init__(self, *, kpi, unit, period_end):
        self.kpi, self.unit, self.period_end = kpi, unit, period_end
        super().__init__(
            _(
                "The period ending %(period_end)s is approved and locked. Ask a manager to reopen it for this "
                "unit (with a reason and an expiry date); a correction is then kept as a restatement."
            )
            % {"period_end": period_end.isoformat()}
        )


class SubmissionRefused(Exception):
    """A submission cannot make this move (wrong state, or the caller may not): the message says why."""
