"""Simplified Chinese: 2025年6月30日 everywhere (prose, tables, explanations), 24-hour times; numbers from
十万 up in 万 and from 亿 up in 亿 (35万, 193亿), smaller ones grouped by thousands (35,000)."""

DATE_FORMAT = "Y年n月j日"
DATETIME_FORMAT = "Y年n月j日 H:i"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "Y年n月"
MONTH_DAY_FORMAT = "n月j日"
SHORT_DATE_FORMAT = "Y年n月j日"
SHORT_DATETIME_FORMAT = "Y年n月j日 H:i"
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
# (unit, its value, the smallest magnitude written in it): largest first.
NUMBER_MAGNITUDES = (("万亿", 10**12, 10**12), ("亿", 10**8, 10**8), ("万", 10**4, 10**5))
