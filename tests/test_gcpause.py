"""The cyclic garbage collector is off for the length of a large set-based update, and on again after it."""

import gc

import pytest

from plans import incremental, services
from plans.api import views
from plans.gcpause import collection_paused
from tests.factories import GoalFactory, KPIFactory
from tests.test_incremental import TODAY, measured_plan


def test_the_collector_is_off_inside_and_as_it_was_after_a_return_or_an_exception():
    seen = []

    @collection_paused
    def work(fail=False):
        seen.append(gc.isenabled())
        if fail:
            raise ValueError("refused")
        return "done"

    assert gc.isenabled()
    assert work() == "done"
    with pytest.raises(ValueError):
        work(fail=True)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        work()  # off already (a caller's own choice): left off
        assert not gc.isenabled()
    finally:
        gc.enable()


def watch(monkeypatch, module, name) -> list[bool]:
    """Whether the collector was on at each call of ``module.name``."""
    seen, real = [], getattr(module, name)

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, watched)
    return seen


@pytest.mark.django_db
def test_an_incremental_update_runs_without_the_collector(monkeypatch, django_capture_on_commit_callbacks):
    kpi = measured_plan(2)
    seen = watch(monkeypatch, incremental, "_chain_load")
    with django_capture_on_commit_callbacks(execute=True):
        services.measurement_record(kpi=kpi, date=TODAY, value=71, note="checked")
    assert seen == [False] and gc.isenabled()


@pytest.mark.django_db
def test_a_bulk_upload_runs_without_the_collector(monkeypatch, writer, team):
    kpi = KPIFactory(goal=GoalFactory(owner_team=team))
    seen = watch(monkeypatch, views.services, "measurements_bulk_upsert")
    body = {"measurements": [{"kpi": kpi.pk, "date": "2025-01-31", "value": 60.0}]}
    assert writer.post("/api/v1/measurements/bulk/", body).status_code == 200
    assert seen == [False] and gc.isenabled()
