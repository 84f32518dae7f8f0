"""The dashboards and the API read the same filter query string."""

import pytest
from django.urls import reverse

from tests.factories import FocusAreaFactory, GoalFactory, KPIFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kpis():
    area = FocusAreaFactory()
    team = TeamFactory(name="Owners")
    wanted = KPIFactory(goal=GoalFactory(focus_area=area, owner_team=team), owner_team=team, code="WANTED")
    KPIFactory(goal=GoalFactory(focus_area=area), code="OTHER-TEAM")
    KPIFactory(goal=GoalFactory(focus_area=FocusAreaFactory(plan=area.plan)), owner_team=team, code="OTHER-AREA")
    return wanted


def test_one_query_string_filters_the_dashboard_and_the_api_alike(reader, client, manager, kpis):
    query = {"focus_area": kpis.goal.focus_area_id, "owner_team": kpis.owner_team_id}

    api_codes = [row["code"] for row in reader.get("/api/v1/kpis/", query).json()["results"]]
    client.force_login(manager)
    page = client.get(reverse("plans:dashboard", args=[kpis.plan.slug]), query).content.decode()

    assert api_codes == ["WANTED"]
    assert "WANTED" in page and "OTHER-TEAM" not in page and "OTHER-AREA" not in page


@pytest.mark.parametrize("value", ["abc", "0", str(2**70)])
def test_an_impossible_id_is_a_clear_400(reader, kpis, value):
    response = reader.get("/api/v1/kpis/", {"focus_area": value})
    assert response.status_code == 400
    assert "focus_area" in response.json()
