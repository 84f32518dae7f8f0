"""factory_boy factories for every model; sensible defaults match the demo plan's dates."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from plans import models
from plans.choices import Direction, Frequency, MilestoneState, UnitLevel


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("secret-pass-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get_or_create(name=extracted)[0])

    @factory.post_generation
    def teams(self, create, extracted, **kwargs):
        for team in extracted or ():
            team.members.add(self)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Plan

    name = factory.Sequence(lambda n: f"Plan {n}")
    slug = factory.Sequence(lambda n: f"plan-{n}")
    baseline_year = 2024
    start_date = datetime.date(2025, 1, 1)
    end_date = datetime.date(2025, 12, 31)
    # Most tests are about the status method, not the review cycle: every recorded value counts at once.
    counting = "all"


class FocusAreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.FocusArea

    plan = factory.SubFactory(PlanFactory)
    code = factory.Sequence(lambda n: f"FA{n}")
    name = factory.Sequence(lambda n: f"Focus area {n}")
    weight = Decimal("1")


class GoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Goal

    focus_area = factory.SubFactory(FocusAreaFactory)
    plan = factory.SelfAttribute("focus_area.plan")
    code = factory.Sequence(lambda n: f"G{n}")
    title = factory.Sequence(lambda n: f"Goal {n}")
    owner_team = factory.SubFactory(TeamFactory)


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Milestone

    goal = factory.SubFactory(GoalFactory)
    plan = factory.SelfAttribute("goal.plan")
    owner_team = factory.SelfAttribute("goal.owner_team")
    title = factory.Sequence(lambda n: f"Milestone {n}")
    due_date = datetime.date(2025, 12, 31)
    state = MilestoneState.PLANNED


class KPIFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.KPI

    goal = factory.SubFactory(GoalFactory)
    plan = factory.SelfAttribute("goal.plan")
    owner_team = factory.SelfAttribute("goal.owner_team")
    code = factory.Sequence(lambda n: f"K{n}")
    name = factory.Sequence(lambda n: f"KPI {n}")
    unit = "%"
    direction = Direction.INCREASE
    baseline_value = 60.0
    baseline_date = datetime.date(2024, 12, 31)
    target_value = 80.0
    target_date = datetime.date(2025, 12, 31)
    frequency = Frequency.QUARTERLY


class MeasurementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Measurement

    kpi = factory.SubFactory(KPIFactory)
    date = datetime.date(2025, 6, 30)
    value = 70.0


class NationFactory(factory.django.DjangoModelFactory):
    """The root of the reporting-unit tree."""

    class Meta:
        model = models.ReportingUnit
        django_get_or_create = ("code",)

    code = "CN"
    name_en = "China"
    name_zh = "中国"
    level = UnitLevel.NATION


class ProvinceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ReportingUnit

    code = factory.Sequence(lambda n: f"P{n}")
    name_en = factory.Sequence(lambda n: f"Province {n}")
    level = UnitLevel.PROVINCE
    parent = factory.SubFactory(NationFactory)


class ZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ReportingUnit

    code = factory.Sequence(lambda n: f"Z{n}")
    name_en = factory.Sequence(lambda n: f"Zone {n}")
    level = UnitLevel.ZONE
    parent = factory.SubFactory(ProvinceFactory)


class StatusSnapshotFactory(factory.django.DjangoModelFactory):
    """A stored status of one item on one day; give ``plan``, ``item_type`` and ``item_id``."""

    class Meta:
        model = models.StatusSnapshot

    as_of = datetime.date(2025, 6, 30)
    status = "on_track"


def api_token(*, scope: str = "write", team=None, name: str = "external system", units=()):
    """An API token and its key, made the way create_api_token makes them (only the hash is stored)."""
    from plans.services import api_token_create

    return api_token_create(name=name, scope=scope, team=team, units=units)


def api_client(key: str | None = None, *, user=None):
    """A DRF test client that sends ``Authorization: Token <key>``, or is signed in as ``user``."""
    from rest_framework.test import APIClient

    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    if user is not None:
        client.force_login(user)
    return client
