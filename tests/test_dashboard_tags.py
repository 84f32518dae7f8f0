"""The template helpers a long table calls on every row (plans.templatetags.dashboard) give what Django's own
``{% url %}`` and ``{{ field }}`` give, only cheaper."""

import re

import pytest
from django.urls import reverse

from plans.filtersets import KPIFilterSet
from plans.models import KPI
from plans.templatetags.dashboard import fast_url, select_field
from tests.test_dashboard_views import build_plan

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("plans:dashboard_goal", ["plan-1", "G01"]),
        ("plans:dashboard_goal", ["plan-1", "BG/1"]),  # codes stored before they had to be slugs
        ("plans:dashboard_kpi", ["plan-1", "K 1%?#é"]),
        ("plans:dashboard_kpi", ["plan-2", "0000000000"]),
        ("plans:dashboard_milestone", ["plan-1", 42]),
        ("plans:dashboard_why", ["plan-1", "focus-area", "FA:1"]),
        ("plans:measurement_create", [7]),
    ],
)
def test_fast_url_is_what_reverse_gives(name, args):
    assert fast_url(name, *args) == reverse(name, args=args)


def squeezed(html) -> str:
    return re.sub(r">\s+<", "><", str(html))


@pytest.mark.parametrize(
    "data",
    [{}, {"status": "at_risk"}, {"status": "nonsense"}, {"focus_area": "first"}, {"focus_area": "999999"}],
)
def test_a_filter_select_is_what_django_renders(data):
    plan = build_plan(goals=2)
    if data.get("focus_area") == "first":
        data = {"focus_area": str(plan.focus_areas.order_by("order").first().pk)}
    form = KPIFilterSet(data, KPI.objects.filter(plan=plan), plan=plan).form
    form.is_valid()
    for field in form:
        assert squeezed(select_field(field)) == squeezed(field), field.name
