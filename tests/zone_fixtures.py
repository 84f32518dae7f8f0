"""The reporting units and zone reporters the zone tests share: two provinces, three zones, a Hefei reporter.

Import the fixtures into a test module (``from tests.zone_fixtures import *``) to use them.
"""

import datetime
from types import SimpleNamespace

import pytest

from plans.choices import Aggregation
from tests.factories import GoalFactory, KPIFactory, NationFactory, ProvinceFactory, UserFactory, ZoneFactory

__all__ = ["aggregated_kpi", "hefei_reporter", "national_only_kpi", "ratio_kpi", "zones"]


@pytest.fixture
def zones(db):
    nation = NationFactory()
    anhui = ProvinceFactory(code="AH", name_en="Anhui", name_zh="安徽", parent=nation)
    hubei = ProvinceFactory(code="HB", name_en="Hubei", name_zh="湖北", parent=nation)
    return SimpleNamespace(
        nation=nation,
        anhui=anhui,
        hubei=hubei,
        hefei=ZoneFactory(code="HEFEI", name_en="Hefei", name_zh="合肥", parent=anhui),
        wuhu=ZoneFactory(code="WUHU", name_en="Wuhu", name_zh="芜湖", parent=anhui),
        wuhan=ZoneFactory(code="WUHAN", name_en="Wuhan East Lake", parent=hubei, active_from=datetime.date(2025, 7, 1)),
    )


@pytest.fixture
def hefei_reporter(zones):
    """A zone reporter of Hefei: staff in no team, so only their unit gives them anything to write."""
    user = UserFactory(username="hefei", role="staff")
    zones.hefei.reporters.add(user)
    return user


@pytest.fixture
def aggregated_kpi(other_team):
    """A summed KPI owned by a team the Hefei reporter is not in: team ownership does not limit a zone's figures."""
    return KPIFactory(goal=GoalFactory(owner_team=other_team), aggregation=Aggregation.SUM, unit="billion yuan")


@pytest.fixture
def national_only_kpi(other_team):
    return KPIFactory(goal=GoalFactory(owner_team=other_team), aggregation=Aggregation.NONE)


@pytest.fixture
def ratio_kpi(other_team):
    return KPIFactory(goal=GoalFactory(owner_team=other_team), aggregation=Aggregation.RATIO, ratio_scale=100.0)
