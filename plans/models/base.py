"""Abstract building blocks shared by the domain models, and constraint helpers."""

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

from plans.choices import Status

__all__ = [
    "MAX_ABS_VALUE",
    "Computed",
    "finite_validators",
    "multi_line_validators",
    "single_line_validators",
    "Tracked",
    "choices_check",
    "finite_check",
    "positive_weight_check",
    "weight_field",
]

# The largest primary key (bigint): ids beyond it are refused as input before they reach a query.
MAX_ID = 2**63 - 1

# Larger magnitudes are typing errors, not statistics; the bound also keeps NaN and infinity out,
# since NaN compares false (SQLite stores it as NULL) and infinity lies beyond it.
MAX_ABS_VALUE = 1e15
finite_validators = [MinValueValidator(-MAX_ABS_VALUE), MaxValueValidator(MAX_ABS_VALUE)]
# Codes travel in URLs, file names of exports and spreadsheets: letters, digits, dots, hyphens, underscores.
code_validators = [
    RegexValidator(
        r"\A[A-Za-z0-9._-]+\Z",
        message=_("Use only letters, digits, dots, hyphens and underscores in a code (no spaces or slashes)."),
        code="invalid_code",
    )
]


# Characters no person types into a name or a note: C0 controls, DEL, C1 controls, and lone surrogates
# (JSON's "\ud800" decodes to one; PostgreSQL cannot store it, and NUL not at all). They arrive pasted from
# PDFs or sent by broken clients, are invisible on the page and break exports, so they are refused with the
# character named, never silently stripped: a stripped value would differ from what the client sent and
# then compare as changed on every replay. Multi-line text keeps tab, line feed and carriage return.
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
# A single line also refuses tab and every line break: LF, CR, and Unicode's line and paragraph separators.
_LINE_BREAK = "\t\n\r\u2028\u2029"


@deconstructible
class ControlCharacterValidator:
    """Refuses text holding any character of ``characters`` (a regex character class body)."""

    message = _("Remove the control character %(character)s (at position %(position)d): it cannot be shown or stored.")
    single_line_message = _(
        "This field is a single line: remove the control character or line break %(character)s "
        "(at position %(position)d)."
    )
    code = "control_character"

    def __init__(self, *, single_line: bool):
        self.single_line = single_line
        self.pattern = re.compile(f"[{_CONTROL}{_LINE_BREAK if single_line else ''}]")

    def __call__(self, value):
        found = self.pattern.search(str(value))
        if found:
            raise ValidationError(
                self.single_line_message if self.single_line else self.message,
                code=self.code,
                params={"character": f"U+{ord(found.group()):04X}", "position": found.start() + 1},
            )

    def __eq__(self, other):
        return isinstance(other, ControlCharacterValidator) and other.single_line == self.single_line


# Names, titles, units, sources, external ids: one line of printable text.
single_line_validators = [ControlCharacterValidator(single_line=True)]
# Descriptions and notes: printable text in lines (tab, LF and CR allowed).
multi_line_validators = [ControlCharacterValidator(single_line=False)]


def finite_check(field: str, *, name: str, nullable: bool = False) -> models.CheckConstraint:
    condition = Q(**{f"{field}__gte": -MAX_ABS_VALUE, f"{field}__lte": MAX_ABS_VALUE})
    if nullable:
        condition |= Q(**{f"{field}__isnull": True})
    return models.CheckConstraint(condition=condition, name=name, violation_error_message=_("Value must be finite."))


def choices_check(field: str, choices: type[models.TextChoices], *, name: str, blank: bool = False):
    """Only the enumeration's values (and "" when ``blank``): a raw save or update() cannot store a typo."""
    values = [*choices.values, ""] if blank else choices.values
    return models.CheckConstraint(
        condition=Q(**{f"{field}__in": values}),
        name=name,
        violation_error_message=_("Select a valid choice."),
    )


def positive_weight_check(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(weight__gt=0), name=name, violation_error_message=_("Weight must be above zero.")
    )


def weight_field() -> models.DecimalField:
    return models.DecimalField(
        _("weight"),
        max_digits=7,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Relative weight in the parent's roll-up."),
    )


class Tracked(models.Model):
    """Optimistic-concurrency version and timestamps; (updated_at, id) drives incremental sync."""

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True
        indexes = [models.Index(fields=["updated_at", "id"], name="%(app_label)s_%(class)s_sync")]


class Computed(models.Model):
    """Status fields written only by the status engine (plans.recompute.plan_recompute)."""

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, blank=True, editable=False)
    score = models.FloatField(_("score"), null=True, blank=True, editable=False)
    progress = models.FloatField(_("progress"), null=True, blank=True, editable=False)
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True, editable=False)
    explanation = models.JSONField(_("explanation"), null=True, blank=True, editable=False)

    class Meta:
        abstract = True
