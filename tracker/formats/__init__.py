"""The site's date and number formats per language (settings.FORMAT_MODULE_PATH), over Django's own.

One long date for prose, one short date for tables and explanations, 24-hour times, and the number
grouping a reader of the language expects. ``NUMBER_MAGNITUDES`` (ours, read by plans.magnitudes) names
the large units a language counts in: Chinese reads 350,000 as 35万 and 19,300,000,000 as 193亿.
"""
