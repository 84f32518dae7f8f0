import pytest

from tests.conftest import ARTIFACTS, sign_in
from tests.factories import KPIFactory, UserFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_signed_in_home_page_lists_plans_with_baselines_and_targets(page):
    kpi = KPIFactory(name="GDP of the zones", baseline_value=19.3, target_value=20.8)
    UserFactory(username="viewer", role="staff")
    sign_in(page, "viewer")
    assert page.get_by_role("heading", name=kpi.plan.name).is_visible()
    row = page.get_by_role("row").filter(has_text="GDP of the zones")
    assert "19.3" in row.inner_text() and "20.8" in row.inner_text()
    page.screenshot(path=ARTIFACTS / "home.png", full_page=True)


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
