"""plans.rollup keeps its own plain enums (it imports nothing from the project): they match plans.choices exactly."""

import ast
from enum import Enum
from pathlib import Path

import pytest

from plans import choices, rollup

ROOT = Path(__file__).resolve().parent.parent


def members(enum) -> list[tuple[str, str]]:
    return [(member.name, str(member.value)) for member in enum]


@pytest.mark.parametrize("name", ["Status", "Direction", "MilestoneState", "Frequency"])
def test_rollup_enumeration_matches_choices_member_for_member_in_order(name):
    assert members(getattr(rollup, name)) == members(getattr(choices, name))


def test_every_enumeration_of_rollup_is_mirrored_in_choices():
    enums = {
        n
        for n, v in vars(rollup).items()
        if isinstance(v, type) and issubclass(v, Enum) and v.__module__ == rollup.__name__
    }
    assert enums == {"Status", "Direction", "MilestoneState", "Frequency"}


def test_frequency_allowances_and_direction_signs_cover_exactly_the_choices():
    assert sorted(rollup.ALLOWANCE_DAYS) == sorted(choices.Frequency.values)
    assert sorted(rollup.DIRECTION_SIGNS) == sorted(choices.Direction.values)


def test_milestone_scores_and_worst_statuses_are_statuses_of_choices():
    named = set(rollup.MILESTONE_SCORES) | set(rollup.WORST_STATUSES) | set(rollup.DONE_STATUSES)
    assert named <= set(choices.Status.values)


def test_django_choices_are_declared_only_in_choices_py():
    declared = []
    for path in sorted([*(ROOT / "plans").rglob("*.py"), *(ROOT / "tracker").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(ast.unparse(b).endswith("Choices") for b in node.bases):
                declared.append((str(path.relative_to(ROOT)), node.name))
    assert {where for where, _name in declared} == {"plans/choices.py"}
