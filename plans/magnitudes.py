"""Large numbers in the units the reader's language counts in: 万 and 亿 in Chinese, plain digits in English.

The units come from the language's format module (``NUMBER_MAGNITUDES`` in tracker/formats/<language>/,
settings.FORMAT_MODULE_PATH). A number is only shifted, never rounded further: 123,456 reads 12.3456万,
so no figure loses a digit by being shown in Chinese.
"""

from decimal import Decimal

from django.utils.formats import get_format_modules, number_format


def magnitudes() -> tuple:
    """``(unit, value, from)`` triples of the active language, largest first; empty when it has none."""
    for module in get_format_modules():
        if hasattr(module, "NUMBER_MAGNITUDES"):
            return module.NUMBER_MAGNITUDES
    return ()


def in_magnitude(number: Decimal) -> tuple[Decimal, str]:
    """``number`` divided by the largest unit it reaches, and that unit (``number, ""`` when none)."""
    for unit, value, start in magnitudes():
        if abs(number) >= start:
            return number.scaleb(-len(str(value)) + 1), unit
    return number, ""


def format_decimal(number: Decimal) -> str:
    """A rounded ``Decimal`` grouped and localised, in the language's large units: 350000 -> 35万 in Chinese."""
    number, unit = in_magnitude(number)
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    places = len(text.partition(".")[2])
    return number_format(Decimal(text), decimal_pos=places, force_grouping=True) + unit
