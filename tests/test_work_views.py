"""Staff pages: permissions, conflicts, invalid input, history and query counts (plans/views/work.py, items.py)."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db.models import F
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.formats import date_format

from plans import selectors, services
from plans.choices import MeasurementSource, MilestoneState, Status
from plans.models import KPI, Measurement, MeasurementRevision, MilestoneUpdate, Plan
from plans.permissions import MANAGER, STAFF
from plans.recompute import plan_recompute
from plans.views.items import item_url
from tests.factories import KPIFactory, MeasurementFactory, MilestoneFactory, TeamFactory, UserFactory

TODAY = timezone.localdate()
YESTERDAY = TODAY - datetime.timedelta(days=1)


@pytest.fixture
def milestone(team):
    return MilestoneFactory(
        goal__owner_team=team,
        title="Open the incubator",
        percent_complete=40,
        state=MilestoneState.IN_PROGRESS,
        due_date=TODAY + datetime.timedelta(days=90),
    )


@pytest.fixture
def kpi(milestone):
    return KPIFactory(
        goal=milestone.goal,
        name="Enterprise R&D spending",
        unit="trillion yuan",
        baseline_value=1.2,
        baseline_date=TODAY - datetime.timedelta(days=365),
        target_value=1.3,
        target_date=TODAY + datetime.timedelta(days=180),
    )


def snapshot(milestone, kpi) -> tuple:
    """Everything a refused or invalid post must leave untouched."""
    milestone.refresh_from_db()
    kpi.refresh_from_db()
    return (
        milestone.percent_complete,
        milestone.state,
        milestone.version,
        MilestoneUpdate.objects.count(),
        kpi.version,
        Measurement.objects.count(),
        MeasurementRevision.objects.count(),
    )


def milestone_post(milestone, **overrides) -> dict:
    data = {"version": milestone.version, "percent_complete": 60, "state": MilestoneState.IN_PROGRESS, "note": ""}
    data.update(overrides)
    return data


def measurement_post(kpi, **overrides) -> dict:
    data = {"version": kpi.version, "date": YESTERDAY.isoformat(), "value": "1.25", "note": "Q3 estimate"}
    data.update(overrides)
    return data


# --- permission matrix ----------------------------------------------------------------------

WHO = ["anonymous", "owner_staff", "other_staff", "manager"]
# (page, method) -> expected status per WHO; 302 for anonymous is the redirect to sign-in.
MATRIX = {
    ("dashboard_milestone", "get"): (302, 200, 200, 200),
    ("dashboard_milestone", "post"): (302, 405, 405, 405),
    ("dashboard_kpi", "get"): (302, 200, 200, 200),
    ("dashboard_kpi", "post"): (302, 405, 405, 405),
    ("milestone_update", "get"): (302, 200, 403, 200),
    ("milestone_update", "post"): (302, 302, 403, 302),
    ("measurement_create", "get"): (302, 200, 403, 200),
    ("measurement_create", "post"): (302, 302, 403, 302),
}


@pytest.fixture
def as_user(client, staff, other_staff, manager):
    def login(who):
        users = {"owner_staff": staff, "other_staff": other_staff, "manager": manager}
        if who in users:
            client.force_login(users[who])
        return client

    return login


@pytest.mark.django_db
@pytest.mark.parametrize("who_index, who", list(enumerate(WHO)))
@pytest.mark.parametrize("page, method", list(MATRIX))
def test_permission_matrix(as_user, milestone, kpi, who_index, who, page, method):
    client = as_user(who)
    is_kpi = page in ("dashboard_kpi", "measurement_create")
    item = kpi if is_kpi else milestone
    url = item_url(item) if page.startswith("dashboard") else reverse(f"plans:{page}", kwargs={"pk": item.pk})
    before = snapshot(milestone, kpi)
    if method == "get":
        response = client.get(url)
    else:
        data = measurement_post(kpi) if is_kpi else milestone_post(milestone)
        response = client.post(url, data)
    expected = MATRIX[(page, method)][who_index]
    assert response.status_code == expected
    if who == "anonymous":
        assert response["Location"].startswith("/accounts/login/")
    writes = page in ("milestone_update", "measurement_create") and method == "post" and who_index in (1, 3)
    if writes:
        assert snapshot(milestone, kpi) != before
    else:
        assert snapshot(milestone, kpi) == before


@pytest.mark.django_db
def test_forged_post_for_another_teams_milestone_changes_nothing(client, other_staff, milestone, kpi):
    client.force_login(other_staff)
    before = snapshot(milestone, kpi)
    url = reverse("plans:milestone_update", kwargs={"pk": milestone.pk})
    response = client.post(url, milestone_post(milestone, percent_complete=100, state=MilestoneState.DONE))
    assert response.status_code == 403
    assert snapshot(milestone, kpi) == before


@pytest.mark.django_db
def test_update_links_are_hidden_from_staff_of_another_team(client, other_staff, milestone):
    client.force_login(other_staff)
    response = client.get(item_url(milestone))
    assert reverse("plans:milestone_update", kwargs={"pk": milestone.pk}) not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("who, shown", [("owner_staff", True), ("other_staff", False), ("manager", True)])
def test_item_pages_offer_the_update_form_to_owners_and_managers_only(as_user, milestone, kpi, who, shown):
    client = as_user(who)
    for item, form in ((milestone, "plans:milestone_update"), (kpi, "plans:measurement_create")):
        page = client.get(item_url(item)).content.decode()
        assert (reverse(form, kwargs={"pk": item.pk}) in page) is shown


@pytest.mark.django_db
@pytest.mark.parametrize("old", ["plans:milestone_moved", "plans:kpi_moved"])
def test_former_item_addresses_redirect_permanently_to_the_item_page_with_the_query(client, staff, milestone, kpi, old):
    client.force_login(staff)
    item = kpi if old == "plans:kpi_moved" else milestone
    response = client.get(reverse(old, kwargs={"pk": item.pk}) + "?as_of=2025-06-30&x=1")
    assert response.status_code == 301
    assert response["Location"] == item_url(item) + "?as_of=2025-06-30&x=1"
    assert client.get(reverse(old, kwargs={"pk": item.pk}))["Location"] == item_url(item)


@pytest.mark.django_db
def test_unknown_item_is_404(client, staff):
    client.force_login(staff)
    assert client.get(reverse("plans:milestone_update", kwargs={"pk": 999999})).status_code == 404
    assert client.get(reverse("plans:kpi_moved", kwargs={"pk": 999999})).status_code == 404


# --- successful saves -----------------------------------------------------------------------


@pytest.mark.django_db
def test_milestone_update_writes_history_and_redirects_with_a_message(client, staff, milestone):
    client.force_login(staff)
    url = reverse("plans:milestone_update", kwargs={"pk": milestone.pk})
    response = client.post(url, milestone_post(milestone, percent_complete=75, evidence_url="example.org/r.pdf"))
    assert response.status_code == 302
    assert response["Location"] == item_url(milestone)
    update = MilestoneUpdate.objects.get()
    assert (update.previous_percent_complete, update.percent_complete, update.author) == (40, 75, staff)
    assert update.evidence_url == "https://example.org/r.pdf"
    page = client.get(response["Location"]).content.decode()
    assert "Progress saved: 75% · In progress." in page
    assert "40%" in page and "75%" in page


@pytest.mark.django_db
def test_measurement_writes_a_revision_shown_in_the_history(client, staff, kpi):
    client.force_login(staff)
    url = reverse("plans:measurement_create", kwargs={"pk": kpi.pk})
    response = client.post(url, measurement_post(kpi), follow=True)
    revision = MeasurementRevision.objects.get()
    assert (revision.value, revision.previous_value, revision.author) == (1.25, None, staff)
    page = response.content.decode()
    assert "Measurement saved: 1.25 trillion yuan on" in page
    assert "Q3 estimate" in page


@pytest.mark.django_db
def test_revising_a_measurement_shows_old_and_new_value(client, staff, kpi):
    client.force_login(staff)
    url = reverse("plans:measurement_create", kwargs={"pk": kpi.pk})
    client.post(url, measurement_post(kpi, value="1.25"))
    kpi.refresh_from_db()
    client.post(url, measurement_post(kpi, value="1.27", note="Revised by the bureau"))
    page = client.get(item_url(kpi)).content.decode()
    newest, oldest = page.index("Revised by the bureau"), page.index("Q3 estimate")
    assert newest < oldest  # newest first
    assert Measurement.objects.get().value == 1.27
    assert MeasurementRevision.objects.order_by("-id").first().previous_value == 1.25


@pytest.fixture
def roles(transactional_db):
    """The role groups: a transactional test before this one flushed the rows migration 0002 created."""
    for name in (STAFF, MANAGER):
        Group.objects.get_or_create(name=name)


@pytest.mark.django_db(transaction=True)
def test_success_message_shows_the_recomputed_status(roles, client, staff, milestone):
    pytest.importorskip("plans.recompute")
    client.force_login(staff)
    url = reverse("plans:milestone_update", kwargs={"pk": milestone.pk})
    response = client.post(url, milestone_post(milestone, percent_complete=100, state=MilestoneState.DONE), follow=True)
    milestone.refresh_from_db()
    page = response.content.decode()
    if milestone.plan.needs_recompute:  # REDIS_URL set: the recompute was queued for a worker
        assert "The status is being recomputed" in page
    else:
        assert f"Status: {milestone.get_status_display()}." in page


# --- conflicts ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stale_milestone_form_is_refused_and_keeps_the_typed_values(client, staff, manager, milestone, kpi):
    manager.first_name, manager.last_name = "Li", "Wei"
    manager.save()
    client.force_login(staff)
    opened_version = milestone.version
    services.milestone_progress_record(
        milestone=milestone, percent_complete=70, state=MilestoneState.IN_PROGRESS, note="Fit-out done", author=manager
    )
    before = snapshot(milestone, kpi)
    url = reverse("plans:milestone_update", kwargs={"pk": milestone.pk})
    response = client.post(url, milestone_post(milestone, version=opened_version, percent_complete=85, note="Mine"))
    assert response.status_code == 409
    page = response.content.decode()
    assert "changed by Li Wei at" in page and "since you opened this form" in page
    assert "<dd>70%</dd>" in page  # the newer value
    form = response.context["form"]
    assert form["percent_complete"].value() == "85" and form["note"].value() == "Mine"  # what the user typed
    assert form["version"].value() == str(opened_version + 1)
    assert snapshot(milestone, kpi) == before
    # Resubmitting after seeing the newer values saves.
    response = client.post(url, milestone_post(milestone, version=opened_version + 1, percent_complete=85))
    assert response.status_code == 302
    milestone.refresh_from_db()
    assert milestone.percent_complete == 85


@pytest.mark.django_db
def test_stale_measurement_form_is_refused_and_shows_the_newer_value(client, staff, other_staff, kpi, milestone):
    client.force_login(staff)
    colleague = UserFactory(username="colleague", first_name="Chen", last_name="Jing", teams=[kpi.owner_team])
    opened_version = kpi.version
    services.measurement_record(kpi=kpi, date=YESTERDAY, value=1.31, note="From the bureau", recorded_by=colleague)
    before = snapshot(milestone, kpi)
    url = reverse("plans:measurement_create", kwargs={"pk": kpi.pk})
    response = client.post(url, measurement_post(kpi, version=opened_version, value="1.29"))
    assert response.status_code == 409
    page = response.content.decode()
    assert "changed by Chen Jing at" in page and "since you opened this form" in page
    assert "1.31" in page and "From the bureau" in page
    assert response.context["form"]["value"].value() == "1.29"
    assert snapshot(milestone, kpi) == before
    assert Measurement.objects.get().value == 1.31


# --- invalid input changes nothing ----------------------------------------------------------

MILESTONE_BAD = [
    ({"percent_complete": "abc"}, "percent_complete", "Enter a whole number from 0 to 100."),
    ({"percent_complete": "nan"}, "percent_complete", "NaN"),
    ({"percent_complete": "inf"}, "percent_complete", "infinity"),
    ({"percent_complete": "-1"}, "percent_complete", "cannot be below 0"),
    ({"percent_complete": "101"}, "percent_complete", "cannot be above 100"),
    ({"percent_complete": "50.5"}, "percent_complete", "Enter a whole number from 0 to 100."),
    ({"percent_complete": ""}, "percent_complete", "This field is required."),
    ({"state": "finished"}, "state", "Select a valid choice."),
    ({"state": MilestoneState.BLOCKED}, "note", "Explain what blocks the milestone."),
    ({"percent_complete": "30"}, "note", "Explain why progress goes down from 40% to 30%."),
    ({"evidence_url": "not a link"}, "evidence_url", "Enter a full web address"),
    ({"version": "x"}, "version", "reload the page"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("overrides, field, message", MILESTONE_BAD)
def test_invalid_milestone_update_changes_nothing(client, staff, milestone, kpi, overrides, field, message):
    client.force_login(staff)
    before = snapshot(milestone, kpi)
    url = reverse("plans:milestone_update", kwargs={"pk": milestone.pk})
    response = client.post(url, milestone_post(milestone, **overrides))
    assert response.status_code == 200
    assert any(message in str(e) for e in response.context["form"].errors[field])
    page = response.content.decode()
    assert 'id="error-summary"' in page
    if field != "version":
        assert f'aria-describedby="id_{field}' in page and 'aria-invalid="true"' in page
    assert snapshot(milestone, kpi) == before


MEASUREMENT_BAD = [
    ({"value": "abc"}, "value", "Enter a number"),
    ({"value": "NaN"}, "value", "NaN"),
    ({"value": "inf"}, "value", "infinity"),
    ({"value": "-Infinity"}, "value", "infinity"),
    ({"value": "1e16"}, "value", "implausibly large"),
    ({"value": "-2e15"}, "value", "implausibly large"),
    ({"value": "1e400"}, "value", "implausibly large"),
    ({"value": ""}, "value", "This field is required."),
    ({"date": "2020-01-01"}, "date", "after the KPI's baseline date"),
    ({"date": (TODAY + datetime.timedelta(days=1)).isoformat()}, "date", "cannot be in the future"),
    ({"date": "31/12/2025"}, "date", "Enter a date as YYYY-MM-DD."),
    ({"date": ""}, "date", "This field is required."),
    ({"version": ""}, "version", "reload the page"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("overrides, field, message", MEASUREMENT_BAD)
def test_invalid_measurement_changes_nothing(client, staff, milestone, kpi, overrides, field, message):
    client.force_login(staff)
    before = snapshot(milestone, kpi)
    url = reverse("plans:measurement_create", kwargs={"pk": kpi.pk})
    response = client.post(url, measurement_post(kpi, **overrides))
    assert response.status_code == 200
    assert any(message in str(e) for e in response.context["form"].errors[field])
    assert snapshot(milestone, kpi) == before


@pytest.mark.django_db
def test_measurement_form_shows_the_unit_beside_the_value(client, staff, kpi):
    client.force_login(staff)
    page = client.get(reverse("plans:measurement_create", kwargs={"pk": kpi.pk})).content.decode()
    assert "Value (trillion yuan)" in page
    assert '<span class="unit" aria-hidden="true">trillion yuan</span>' in page


# --- My work --------------------------------------------------------------------------------


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def kpi_kwargs(team, **extra):
    return {
        "goal__owner_team": team,
        "baseline_date": days(-400),
        "target_date": days(200),
        "frequency": "monthly",
        **extra,
    }


def my_work_sections(client, user) -> dict[str, list[str]]:
    """``{bucket: [item title or KPI name, ...]}`` as "My work" lists them."""
    client.force_login(user)
    response = client.get(reverse("plans:my_work"))
    assert response.status_code == 200
    return {
        section["key"]: [getattr(row.item, "title", None) or row.item.name for row in section["items"]]
        for section in response.context["sections"]
    }


@pytest.mark.django_db
def test_on_track_milestone_is_never_listed_as_overdue(client, staff, team):
    MilestoneFactory(goal__owner_team=team, title="Going well", due_date=days(10), status=Status.ON_TRACK)
    sections = my_work_sections(client, staff)
    assert sections == {selectors.ON_TRACK: ["Going well"]}
    assert "overdue" not in client.get(reverse("plans:my_work")).content.decode().lower()


@pytest.mark.django_db
def test_milestone_whose_stored_status_is_overdue_is_listed_as_off_track_or_overdue(client, staff, team):
    MilestoneFactory(goal__owner_team=team, title="Late milestone", due_date=days(-3), status=Status.OVERDUE)
    assert my_work_sections(client, staff) == {selectors.OFF_TRACK: ["Late milestone"]}
    assert "3 days overdue" in client.get(reverse("plans:my_work")).content.decode()


@pytest.mark.django_db
def test_buckets_follow_the_stored_status_not_the_due_date(client, staff, team):
    # Due dates alone would call the first overdue; the stored status (what the badge says) decides.
    MilestoneFactory(goal__owner_team=team, title="Done late", due_date=days(-30), status=Status.COMPLETE)
    MilestoneFactory(goal__owner_team=team, title="Behind", due_date=days(60), status=Status.OFF_TRACK)
    MilestoneFactory(goal__owner_team=team, title="Slipping", due_date=days(20), status=Status.AT_RISK)
    assert my_work_sections(client, staff) == {
        selectors.OFF_TRACK: ["Behind"],
        selectors.AT_RISK: ["Slipping"],
        selectors.ON_TRACK: ["Done late"],
    }


@pytest.mark.django_db
def test_a_computed_plan_s_kpis_are_bucketed_by_their_stored_latest_figure_until_a_write_is_pending(
    client, staff, team
):
    """With every write computed, a KPI's stored latest figure date (the status method's) decides whether it needs a
    figure, without asking the measurements; once a write awaits its recompute, the measurements are asked."""
    kpi = KPIFactory(**kpi_kwargs(team, name="Measured KPI"))
    services.measurement_record(kpi=kpi, date=days(-5), value=kpi.baseline_value + 1, note="in time")
    plan_recompute(plan_id=kpi.plan_id)
    kpi.refresh_from_db()
    assert kpi.computed_at is not None and kpi.latest_date == days(-5)
    assert selectors.NEEDS_FIGURE not in my_work_sections(client, staff)

    KPI.objects.filter(pk=kpi.pk).update(latest_date=days(-60))  # what the stored date alone would say
    cache.clear()  # the page cache knows nothing of a row changed behind the services' back
    assert my_work_sections(client, staff)[selectors.NEEDS_FIGURE] == ["Measured KPI"]
    Plan.objects.filter(pk=kpi.plan_id).update(data_revision=F("computed_revision") + 1)
    cache.clear()
    assert selectors.NEEDS_FIGURE not in my_work_sections(client, staff)  # pending: the measurements say


@pytest.mark.django_db
def test_kpi_without_a_figure_within_its_frequency_needs_a_figure(client, staff, team):
    stale = KPIFactory(**kpi_kwargs(team, name="Stale KPI", status=Status.ON_TRACK))
    MeasurementFactory(kpi=stale, date=days(-40))  # monthly: 31 days allowed (KPI rule 10)
    fresh = KPIFactory(**kpi_kwargs(team, name="Fresh KPI", status=Status.ON_TRACK))
    MeasurementFactory(kpi=fresh, date=days(-5))
    assert my_work_sections(client, staff) == {selectors.NEEDS_FIGURE: ["Stale KPI"], selectors.ON_TRACK: ["Fresh KPI"]}
    assert "No figure within the reporting frequency" in client.get(reverse("plans:my_work")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("target_days, note", [(-10, "final figure due by"), (-31, "final figure due by"), (-32, None)])
def test_kpi_past_its_target_date_without_a_final_figure_needs_a_figure(client, staff, team, target_days, note):
    """Monthly: the final figure is due 31 days after the target date (KPI rule 8), and overdue from the day after."""
    kpi = KPIFactory(**kpi_kwargs(team, name="Ended KPI", target_date=days(target_days), status=Status.ON_TRACK))
    MeasurementFactory(kpi=kpi, date=days(target_days - 10))
    assert my_work_sections(client, staff) == {selectors.NEEDS_FIGURE: ["Ended KPI"]}
    html = client.get(reverse("plans:my_work")).content.decode()
    if note:
        assert f"{note} {date_format(days(target_days + 31), 'SHORT_DATE_FORMAT')}" in html
        assert "Final figure overdue" not in html
    else:
        assert "Final figure overdue" in html and "final figure due by" not in html
    assert "No figure within the reporting frequency" not in html  # the final figure's note says what is missing


@pytest.mark.django_db
def test_kpi_with_its_final_figure_in_is_not_asked_for_another(client, staff, team):
    missed = KPIFactory(**kpi_kwargs(team, name="Missed KPI", target_date=days(-100), status=Status.MISSED))
    MeasurementFactory(kpi=missed, date=days(-100))
    achieved = KPIFactory(**kpi_kwargs(team, name="Achieved KPI", target_date=days(-100), status=Status.ACHIEVED))
    MeasurementFactory(kpi=achieved, date=days(-100))
    assert my_work_sections(client, staff) == {
        selectors.OFF_TRACK: ["Missed KPI"],
        selectors.ON_TRACK: ["Achieved KPI"],
    }


@pytest.mark.django_db
def test_my_work_lists_needs_a_figure_then_off_track_then_at_risk_then_the_rest(client, staff, team):
    MilestoneFactory(goal__owner_team=team, title="Fine", due_date=days(5), status=Status.ON_TRACK)
    MilestoneFactory(goal__owner_team=team, title="Risky", due_date=days(5), status=Status.AT_RISK)
    MilestoneFactory(goal__owner_team=team, title="Late", due_date=days(-5), status=Status.OVERDUE)
    KPIFactory(**kpi_kwargs(team, name="Never reported", baseline_date=days(-60), status=Status.NO_DATA))
    MilestoneFactory(goal__owner_team=TeamFactory(name="Elsewhere"), title="Not mine", status=Status.OVERDUE)
    client.force_login(staff)
    page = client.get(reverse("plans:my_work")).content.decode()
    positions = [page.index(title) for title in ["Never reported", "Late", "Risky", "Fine"]]
    assert positions == sorted(positions)
    assert "Not mine" not in page


@pytest.mark.django_db
def test_my_work_shows_last_update_and_links_to_update(client, staff, team, manager):
    milestone = MilestoneFactory(goal__owner_team=team, title="Logged milestone", due_date=days(60))
    manager.first_name, manager.last_name = "Li", "Wei"
    manager.save()
    services.milestone_progress_record(milestone=milestone, percent_complete=20, state="in_progress", author=manager)
    client.force_login(staff)
    page = client.get(reverse("plans:my_work")).content.decode()
    assert "Li Wei" in page
    assert reverse("plans:milestone_update", kwargs={"pk": milestone.pk}) in page


@pytest.mark.django_db
def test_last_update_is_the_latest_figures_date_and_when_it_was_recorded_not_when_rows_were_touched(
    client, staff, team, manager
):
    kpi = KPIFactory(**kpi_kwargs(team, name="Dated KPI"))
    result = services.measurement_record(
        kpi=kpi, date=days(-20), value=70.0, recorded_by=manager, note="Quarterly figure from the bureau"
    )
    recorded = timezone.make_aware(datetime.datetime(2025, 3, 4, 9, 30))
    Measurement.objects.filter(pk=result.measurement.pk).update(recorded_at=recorded)
    # A reload or a recompute touches updated_at: that is not an update of the figure.
    KPI.objects.filter(pk=kpi.pk).update(updated_at=timezone.now())
    Measurement.objects.filter(pk=result.measurement.pk).update(updated_at=timezone.now())
    client.force_login(staff)
    response = client.get(reverse("plans:my_work"))
    (row,) = [row for section in response.context["sections"] for row in section["items"]]
    assert (row.figure_date, row.figure_value, row.recorded_at, row.recorded_by) == (days(-20), 70.0, recorded, manager)
    page = response.content.decode()
    assert f"Figure for {formats.date_format(days(-20), 'DATE_FORMAT')}" in page
    assert f"recorded {formats.date_format(timezone.localtime(recorded), 'DATETIME_FORMAT')}" in page
    when = formats.date_format(timezone.localtime(recorded), "DATETIME_FORMAT")
    assert not row.figure_derived and f"computed {when}" not in page
    # A figure the aggregation derived (from the zones', or a growth's base KPI's figures) was computed, not recorded.
    Measurement.objects.filter(pk=result.measurement.pk).update(source=MeasurementSource.DERIVED, recorded_by=None)
    cache.clear()
    response = client.get(reverse("plans:my_work"))
    (row,) = [row for section in response.context["sections"] for row in section["items"]]
    assert row.figure_derived
    page = response.content.decode()
    assert f"computed {when}" in page and f"recorded {when}" not in page


def _my_work_data(team, n: int) -> None:
    for i in range(n):
        milestone = MilestoneFactory(goal__owner_team=team, due_date=days(i - n // 2))
        services.milestone_progress_record(
            milestone=milestone, percent_complete=10, state="in_progress", author=UserFactory()
        )
        kpi = KPIFactory(**kpi_kwargs(team, goal=milestone.goal))
        services.measurement_record(kpi=kpi, date=days(-i - 1), value=70.0, recorded_by=UserFactory(), note="Q")


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 12])
def test_my_work_query_count_does_not_grow_with_the_items(client, staff, team, n, django_assert_max_num_queries):
    _my_work_data(team, n)
    client.force_login(staff)
    # session, user, teams and plan revisions (the page cache's key), then on a miss the ranked keys and counts
    # (milestones, KPIs), then the shown milestones, KPIs and authors; the header's unread notifications
    with django_assert_max_num_queries(10):
        response = client.get(reverse("plans:my_work"))
    assert response.status_code == 200
    assert len(response.context["sections"]) >= 1


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 12])
def test_item_pages_query_count_does_not_grow_with_the_history(
    client, staff, milestone, kpi, n, django_assert_max_num_queries
):
    for i in range(n):
        author = UserFactory()
        # Notes, since progress goes down from 40% and the values jump: the log is what is measured here.
        services.milestone_progress_record(
            milestone=milestone, percent_complete=i, state="in_progress", author=author, note="Re-planned."
        )
        services.measurement_record(kpi=kpi, date=days(-i - 1), value=float(i), recorded_by=author, note="Revised.")
    client.force_login(staff)
    # session, user, plan, snapshot dates (as of), final figures (closure banner), item, log, month-end history,
    # role check (groups, teams), the header's unread notifications; the KPI's log is its measurements and their
    # revisions.
    with django_assert_max_num_queries(11):
        assert client.get(item_url(milestone)).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(item_url(kpi)).status_code == 200
