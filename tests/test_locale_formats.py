"""Dates and numbers in the reader's language (tracker/formats, plans.magnitudes): 2025-06-30 and 35,000
in English, 2025年6月30日 and 35万 in Chinese, on pages and in explanations."""

import datetime

import pytest
from django.utils import translation
from django.utils.formats import date_format

from plans.explain import explain, fmt_date, fmt_number
from tests.factories import KPIFactory, MeasurementFactory, UserFactory
from tests.test_explain import kpi

JUNE_30 = datetime.date(2025, 6, 30)


@pytest.mark.parametrize(
    ("language", "long", "short"),
    [("en", "2025-06-30", "2025-06-30"), ("zh-hans", "2025年6月30日", "2025年6月30日")],
)
def test_each_language_has_one_date_format(language, long, short):
    with translation.override(language):
        assert date_format(JUNE_30, "DATE_FORMAT") == long
        assert date_format(JUNE_30, "SHORT_DATE_FORMAT") == short
        assert fmt_date(JUNE_30) == fmt_date("2025-06-30") == short
        assert fmt_date(None) == "—" and fmt_date("not a date") == "not a date"


@pytest.mark.parametrize(
    ("value", "english", "chinese"),
    [
        (0, "0", "0"),
        (10.7413, "10.74", "10.74"),
        (35000.0, "35,000", "35,000"),  # below 十万: digits, grouped
        (350000, "350,000", "35万"),
        (123456.789, "123,456.79", "12.345679万"),  # shifted, not rounded further: no digit is lost
        (-250000, "-250,000", "-25万"),
        (19300000000, "19,300,000,000", "193亿"),
        (19.3e12, "19,300,000,000,000", "19.3万亿"),
        (0.000123, "0.000123", "0.000123"),
    ],
)
def test_large_numbers_read_in_the_units_of_the_language(value, english, chinese):
    with translation.override("en"):
        assert fmt_number(value) == english
    with translation.override("zh-hans"):
        assert fmt_number(value) == chinese


def test_an_explanation_writes_its_dates_and_numbers_in_the_readers_format():
    e = kpi([(JUNE_30, 70.0)], as_of=datetime.date(2025, 7, 1))
    with translation.override("en"):
        english = " ".join(explain(e).sentences)
    with translation.override("zh-hans"):
        chinese = " ".join(explain(e).sentences)
    assert "2025-12-31" in english and "2025-06-30" in english
    assert "2025年12月31日" in chinese and "2025年6月30日" in chinese
    assert "2025-12-31" not in chinese


@pytest.mark.django_db
def test_a_kpi_page_shows_dates_and_large_figures_in_chinese_for_a_chinese_reader(client):
    measured = MeasurementFactory(
        kpi=KPIFactory(code="FIRMS", baseline_value=350000, target_value=19.3e8, unit="家"), value=1234567
    )
    UserFactory(username="reader", role="staff")
    client.force_login(UserFactory(username="boss", role="manager"))
    url = f"/plans/{measured.kpi.plan.slug}/kpis/FIRMS/"
    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "35万 家" in chinese and "19.3亿 家" in chinese and "123.4567万" in chinese
    assert "2025年6月30日" in chinese and "2024年12月31日" in chinese
    assert "350,000 家" in english and "1,930,000,000 家" in english and "1,234,567" in english
    assert "2025-06-30" in english
