"""Fixtures of the API tests: fresh throttle counters for every test, and items owned by the two teams."""

import pytest
from django.core.cache import cache

from plans.api import throttling
from tests.factories import GoalFactory, KPIFactory


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # The throttle counts requests per caller in the cache; a test's requests must not count against the next.
    cache.clear()
    throttling.cache_breaker.reset()


@pytest.fixture
def goal(team):
    return GoalFactory(owner_team=team)


@pytest.fixture
def kpi(goal):
    return KPIFactory(goal=goal)


@pytest.fixture
def other_kpi(other_team):
    return KPIFactory(goal=GoalFactory(owner_team=other_team))
