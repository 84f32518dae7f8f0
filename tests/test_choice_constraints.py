"""Every ``choices`` field of the plans app is guarded by a named database constraint.

The fields are found by introspecting the models, so a new choices field without a constraint (or a
model without a row builder here) fails these tests.
"""

import datetime

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction

from plans.choices import ChangeAction, ChangeChannel, DefinitionItemType, ItemType, MilestoneState, Status
from plans.models import (
    DefinitionChange,
    MilestoneUpdate,
    ReminderSent,
    StatusSnapshot,
    Submission,
    SubmissionTransition,
    UnitStatus,
)
from tests.factories import (
    FocusAreaFactory,
    GoalFactory,
    KPIFactory,
    MeasurementFactory,
    MilestoneFactory,
    PlanFactory,
    UserFactory,
    ZoneFactory,
    api_token,
)

BOGUS = "bogus"


def _submission():
    kpi = KPIFactory()
    return Submission.objects.create(
        plan=kpi.plan, kpi=kpi, period_end=datetime.date(2025, 6, 30), due_date=datetime.date(2025, 7, 30)
    )


ROW_BUILDERS = {
    "plan": PlanFactory,
    "focusarea": FocusAreaFactory,
    "goal": GoalFactory,
    "kpi": KPIFactory,
    "milestone": MilestoneFactory,
    "measurement": MeasurementFactory,
    "milestoneupdate": lambda: MilestoneUpdate.objects.create(
        milestone=MilestoneFactory(), percent_complete=10, state=MilestoneState.IN_PROGRESS
    ),
    "statussnapshot": lambda: StatusSnapshot.objects.create(
        plan=PlanFactory(), item_type=ItemType.PLAN, item_id=1, as_of=datetime.date(2025, 6, 30), status=Status.ON_TRACK
    ),
    "apitoken": lambda: api_token()[0],
    "reportingunit": ZoneFactory,
    "submission": lambda: _submission(),
    "submissiontransition": lambda: SubmissionTransition.objects.create(submission=_submission(), to_state="draft"),
    "remindersent": lambda: ReminderSent.objects.create(
        recipient=UserFactory(), kpi=KPIFactory(), period_end=datetime.date(2025, 6, 30), kind="due"
    ),
    "unitstatus": lambda: UnitStatus.objects.create(kpi=KPIFactory(), unit=ZoneFactory(), status=Status.ON_TRACK),
    "definitionchange": lambda: DefinitionChange.objects.create(
        item_type=DefinitionItemType.KPI,
        item_id=1,
        action=ChangeAction.UPDATED,
        field="name",
        channel=ChangeChannel.API,
    ),
}


def choice_fields():
    return [
        pytest.param(model, field, id=f"{model._meta.model_name}.{field.name}")
        for model in apps.get_app_config("plans").get_models()
        for field in model._meta.concrete_fields
        if field.choices
    ]


def test_the_introspection_finds_the_known_choice_fields():
    found = {param.id for param in choice_fields()}
    assert {"milestone.state", "kpi.direction", "kpi.frequency", "measurement.source", "apitoken.scope"} <= found


@pytest.mark.parametrize(("model", "field"), choice_fields())
def test_every_choice_field_has_a_named_check_constraint(model, field):
    names = {constraint.name for constraint in model._meta.constraints}
    assert f"plans_{model._meta.model_name}_{field.name}_valid" in names


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "field"), choice_fields())
def test_a_raw_save_of_a_bogus_choice_is_refused_by_the_database(model, field):
    row = ROW_BUILDERS[model._meta.model_name]()
    setattr(row, field.attname, BOGUS)
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "field"), choice_fields())
def test_a_queryset_update_to_a_bogus_choice_is_refused_by_the_database(model, field):
    row = ROW_BUILDERS[model._meta.model_name]()
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=row.pk).update(**{field.attname: BOGUS})
    row.refresh_from_db()
    assert getattr(row, field.attname) != BOGUS
