"""The one strict reading of a number typed by a person or sent by a system: the web forms and the API both use it.

Python's ``float()`` and Django's and DRF's number fields read more than people mean: ``"1_000"`` is 1000,
``"１２"`` (full-width digits) is 12, JSON ``true`` is 1.0, and a localized Django field with thousands
separators turns ``"12,5"`` into 125. A figure typed as ``"12,5"`` could mean 12.5 or 125; guessing either
silently corrupts a KPI, so anything that is not a plain number is refused with a reason instead.

Accepted: an optional sign, ASCII digits with at most one decimal mark (the locale's; "." in both of the
languages we serve, en and zh-hans, which is also what the API always uses), and an optional exponent.
Surrounding whitespace is stripped. Scientific notation (``"1e3"``, ``"1.5E+06"``) is accepted: it is
what JSON itself allows for numbers and what spreadsheets export for large figures, and no locale reads
it differently. Refused: thousands separators and inner spaces or underscores (``"1,000"``, ``"12,5"``,
``"1 000"``, ``"1_000"``), trailing letters (``"7a"``), booleans, NaN and infinity, and magnitudes beyond
``MAX_ABS_VALUE``.
"""

import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models.base import MAX_ABS_VALUE

MAX_TEXT_LENGTH = 1000

MESSAGES = {
    "invalid": _("Enter a number, such as 12.5."),
    "separator": _(
        "Write the number without thousands separators or spaces, with “%(decimal)s” as the decimal mark: "
        "for example 1000 or 12.5, not 1,000 or 12,5."
    ),
    "boolean": _("true and false are not numbers: send a JSON number or a plain decimal string, such as 12.5."),
    "not_finite": _("Enter a real number: “NaN” and infinity are not allowed."),
    "too_large": _("This number is implausibly large: enter a value between -1e15 and 1e15."),
    "not_integer": _("Enter a whole number."),
}

_NON_FINITE = {"nan", "inf", "infinity"}
# What people and programs put between digit groups: comma, underscore, apostrophes, ordinary,
# no-break and narrow no-break spaces, and the full stop where it is not the decimal mark.
_GROUP_MARKS = set(",_'’ \u00a0\u202f.")


def _number_pattern(decimal_separator: str) -> re.Pattern:
    mark = re.escape(decimal_separator)
    return re.compile(rf"[+-]?(?:[0-9]+(?:{mark}[0-9]*)?|{mark}[0-9]+)(?:[eE][+-]?[0-9]+)?")


_PATTERNS = {".": _number_pattern(".")}


def _fail(code: str, **params):
    raise ValidationError(MESSAGES[code], code=code, params=params or None)


def _text_to_decimal(text: str, decimal_separator: str) -> Decimal:
    pattern = _PATTERNS.get(decimal_separator) or _number_pattern(decimal_separator)
    if len(text) <= MAX_TEXT_LENGTH and pattern.fullmatch(text):
        return Decimal(text.replace(decimal_separator, "."))
    if text.lower().lstrip("+-") in _NON_FINITE:
        _fail("not_finite")
    if any(char.isdigit() for char in text) and set(text) & (_GROUP_MARKS - {decimal_separator}):
        _fail("separator", decimal=decimal_separator)
    _fail("invalid")


def parse_number(value, *, kind: type = float, decimal_separator: str = "."):
    """``value`` (text, or a number already decoded from JSON) as ``kind`` (float, int or Decimal).

    Returns None for empty input (None, or text that is only whitespace): whether a number is required
    is the caller's rule. Raises a ValidationError with code ``invalid``, ``separator``, ``boolean``,
    ``not_finite``, ``too_large`` or ``not_integer``; callers may map the code to their own wording.
    """
    if value is None:
        return None
    if isinstance(value, bool):  # before int: True is an int to Python
        _fail("boolean")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        number = _text_to_decimal(text, decimal_separator)
    elif isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            _fail("not_finite")
        number = Decimal(repr(value))
    else:
        _fail("invalid")
    if not number.is_finite():
        _fail("not_finite")
    # Before any conversion: int(Decimal("1e999999999")) would try to build a billion-digit integer.
    if number.copy_abs() > Decimal(MAX_ABS_VALUE):  # copy_abs: abs() applies the context and overflows
        _fail("too_large")
    if kind is int:
        if number != number.to_integral_value():
            _fail("not_integer")
        return int(number)
    if kind is Decimal:
        return number
    return float(number)


def field_error(exc: ValidationError, messages: dict) -> ValidationError:
    """``exc`` reworded with a field's own message for its code, when the field has one."""
    message = messages.get(exc.code, exc.message)
    return ValidationError(message, code=exc.code, params=exc.params)


_QUANTA = [Decimal(1).scaleb(-places) for places in range(10)]  # 1, 0.1, 0.01 ...


def rounded(value, places: int):
    """``value`` rounded half up to ``places`` decimals, as a Decimal that keeps them (1.5 at 2 places is 1.50), so
    a CSV shows exactly the precision and an XLSX cell gets the matching number format (plans.xlsx).

    Rounds the number as written (``repr``: 2.675 is 2.68, not the binary 2.67499...). None stays None; a
    non-finite float or one too large to carry the decimals is returned as it is.
    """
    if value is None or isinstance(value, bool):
        return value
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            return value
        return number.quantize(_QUANTA[places], rounding=ROUND_HALF_UP)
    except (InvalidOperation, IndexError):
        return value
