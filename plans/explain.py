"""Turn a stored status explanation (``plans.rollup`` JSON) into plain, translatable sentences and values.

Templates and views read explanations and status words only through here. Only reads what the
explanation holds: nothing here recomputes a status. Unknown rules or keys
(an explanation from a later method version) degrade to the stored one-line ``summary``.
Numbers are rounded for reading only and localised with Django's number formatting.

A roll-up's children are stored with their item's key (``kpi:12``) and the label of its English name; a
reader of Chinese gets the items' Chinese names, read by key when the explanation is shown
(``localised_labels``), so the stored explanations stay one language and old ones read in both.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .choices import Frequency, ItemType, Status
from .magnitudes import format_decimal
from .models import KPI, FocusArea, Goal, Milestone
from .models.bilingual import reads_chinese
from .rollup import STALE_NO_FINAL_FIGURE, STALE_OLDER_THAN_FREQUENCY, MeasurementPoint, kpi_point_rows

DASH = "—"
# Pulls are shown to two decimals: one within ±0.005 reads as 0.00, so it neither drags nor lifts.
NEGLIGIBLE_PULL = 0.005


def fmt_number(value, places: int = 2) -> str:
    """``10.7413`` -> ``10.74``; ``35000.0`` -> ``35,000`` (``3.5万`` from 十万 up in Chinese, plans.magnitudes);
    tiny non-zero values keep 3 significant digits."""
    if value is None:
        return DASH
    x = float(value)
    if not math.isfinite(x):
        return DASH
    if x != 0 and abs(x) < 10**-places:
        places = min(-math.floor(math.log10(abs(x))) + 2, 12)
    return format_decimal(Decimal(f"{round(x, places):.{places}f}"))


def fmt_date(value) -> str:
    """A date (or its ISO text, as explanations store it) in the language's short format: 2025-06-30 in
    English, 2025年6月30日 in Chinese (tracker/formats). Anything else is shown as it is, None as a dash."""
    if value is None:
        return DASH
    day = value
    if isinstance(value, str):
        try:
            day = datetime.date.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(day, datetime.date):
        return str(value)
    return date_format(day, "SHORT_DATE_FORMAT")


def fmt_percent(share) -> str:
    """``0.4213`` -> ``42%`` (a share of one, shown as a whole percentage)."""
    if share is None:
        return DASH
    return _("%(number)s%%") % {"number": number_format(round(float(share) * 100), decimal_pos=0)}


def pull_direction(pull) -> int:
    """-1 when a child drags its roll-up's score down, +1 when it lifts it, 0 when its pull is negligible or none."""
    if pull is None or abs(pull) <= NEGLIGIBLE_PULL:
        return 0
    return -1 if pull < 0 else 1


def status_label(value) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return _("Not computed")


@dataclass
class ChildRow:
    """One child of a roll-up, as the "Why?" panel lists it."""

    label: str
    key: str
    status: str
    weight: float | None
    score: float | None
    pull: float | None
    included: bool
    row: dict = field(repr=False)  # the stored child row, for ``sentence``

    @property
    def pull_direction(self) -> int:
        return pull_direction(self.pull)

    @property
    def sentence(self) -> str:
        """Built when read: a long table's rows show only their drags, not a sentence per child."""
        return _child_sentence(self.row)


@dataclass
class Explained:
    """What a template shows of an explanation: sentences, a roll-up's children and its coverage, all display-ready."""

    sentences: list[str] = field(default_factory=list)
    children: list[ChildRow] = field(default_factory=list)
    as_of: str | None = None
    rule: str = ""
    coverage: str = DASH  # a roll-up's scored share of the weight, as a percentage
    method_version: int | None = None  # the version of shared/METHOD.md the explanation names
    hidden: int = 0  # children left out of ``children`` by ``shown``

    def shown(self, limit: int) -> Explained:
        """The explanation with its first ``limit`` children (the largest drags come first); ``hidden`` says how
        many more there are. A focus area's roll-up has a child per goal, 200 at national scale 10: a page lists
        the first ones and links to the rest instead of rendering them all."""
        if len(self.children) <= limit:
            return self
        return replace(self, children=self.children[:limit], hidden=self.hidden + len(self.children) - limit)

    @property
    def drags(self) -> list[str]:
        """Sentences for the children that pull a roll-up's score down, the largest first."""
        return [c.sentence for c in self.children if c.included and c.pull_direction < 0]


def explain(explanation: dict | None) -> Explained:
    """Plain sentences (and, for roll-ups, the children with their pull) from a stored explanation."""
    if not explanation:
        return Explained(sentences=[_("This item has not been computed yet.")])
    kind = explanation.get("kind")
    builder = {"kpi": _kpi, "milestone": _milestone, "rollup": _rollup}.get(kind)
    try:
        result = builder(explanation) if builder else None
    except (KeyError, TypeError, ValueError):
        result = None
    if result is None:
        summary = explanation.get("summary")
        result = Explained(sentences=[summary] if summary else [_("No explanation is available.")])
    if isinstance(explanation.get("unit"), dict):  # a reporting unit's status (plans.aggregation)
        result.sentences.insert(0, unit_target_sentence(explanation["unit"]))
    result.as_of = explanation.get("as_of")
    result.rule = explanation.get("rule", "")
    result.method_version = explanation.get("method_version")
    return result


def explain_snapshot(*, as_of, status: str | None, score, progress) -> Explained:
    """What a past as-of view can say: the snapshot keeps the outcome, not the reasoning."""
    if not status:
        return Explained(sentences=[_("There is no snapshot of this item on %(date)s.") % {"date": fmt_date(as_of)}])
    sentences = [
        _("On %(date)s the status was “%(status)s”.") % {"date": fmt_date(as_of), "status": status_label(status)},
    ]
    if score is not None:
        sentences.append(_("Score %(score)s on a scale from −5 to +5.") % {"score": fmt_number(score)})
    if progress is not None:
        sentences.append(_("Progress was %(progress)s.") % {"progress": fmt_percent(progress)})
    sentences.append(
        _("The full reasoning is kept for month ends and for the current status."),
    )
    return Explained(sentences=sentences, as_of=str(as_of))


# --- KPI outcome: forecast before the target date, final figure after it ------------------

FORECAST, FINAL_FIGURE, FINAL_FIGURE_DUE, FINAL_FIGURE_OVERDUE = (
    "forecast",
    "final_figure",
    "final_figure_due",
    "final_figure_overdue",
)


@dataclass(frozen=True)
class KPIOutcome:
    """What a KPI row shows in its forecast place: the forecast, or once the target date has passed the
    final figure (a measurement dated on or after the target date); without it, the forecast while the final
    figure is still due (``due_by``, KPI rule 8's allowance), then that the final figure is overdue."""

    kind: str
    value: float | None = None
    date: datetime.date | None = None
    low: float | None = None
    high: float | None = None
    due_by: datetime.date | None = None

    @property
    def label(self) -> str:
        return {
            FORECAST: _("Forecast at the target date"),
            FINAL_FIGURE: _("Final figure"),
            FINAL_FIGURE_DUE: _("Forecast until the final figure is in"),
            FINAL_FIGURE_OVERDUE: _("Final figure overdue"),
        }[self.kind]

    @property
    def final_in(self) -> bool:
        return self.kind == FINAL_FIGURE

    @property
    def final_due(self) -> bool:
        return self.kind == FINAL_FIGURE_DUE

    @property
    def final_overdue(self) -> bool:
        return self.kind == FINAL_FIGURE_OVERDUE


def kpi_outcome(kpi, as_of: datetime.date | None, today: datetime.date) -> KPIOutcome:
    """The outcome of a dashboard KPI row (``as_of_*`` annotations) at ``as_of`` (None: now, on ``today``).

    The latest kept figure is the final one when it is dated on or after the target date. Past the target date
    without it, the forecast stands in until the final figure is due (the target date plus the frequency's
    allowance, as KPI rule 8 judges the status); after that the final figure is overdue, and the page no longer
    shows a forecast in its place. The 95% interval is stored for the current status only.
    """
    latest_date = kpi.as_of_latest_date
    if latest_date is not None and latest_date >= kpi.target_date:
        return KPIOutcome(FINAL_FIGURE, value=kpi.as_of_latest_value, date=latest_date)
    day = as_of or today
    kind, due_by = FORECAST, None
    if day > kpi.target_date:
        due_by = kpi.final_figure_due_by
        if day > due_by:
            return KPIOutcome(FINAL_FIGURE_OVERDUE, due_by=due_by)
        kind = FINAL_FIGURE_DUE
    if as_of is None:
        return KPIOutcome(kind, value=kpi.as_of_forecast, low=kpi.forecast_low, high=kpi.forecast_high, due_by=due_by)
    return KPIOutcome(kind, value=kpi.as_of_forecast, due_by=due_by)


def kpi_points(kpi, as_of: datetime.date | None = None, measurements=None) -> list[dict]:
    """Every measurement of ``kpi`` as its status at ``as_of`` (None: the stored current status) used it:
    ``{"date", "value", "recorded_at", "used", "reason"}``, oldest first.

    Stored explanations keep a summary of the points (``inputs.points``), so a KPI with years of
    monthly figures stays small; this derives the full list from the rows, the same way the method
    reads them. ``measurements`` (objects with ``date``, ``value``, ``recorded_at``) saves the query
    when the caller has them, e.g. the KPI page's log.
    """
    if measurements is None:
        measurements = (
            kpi.measurements.national().order_by("date", "recorded_at", "id").only("date", "value", "recorded_at")
        )
    if as_of is None:
        stored = (kpi.explanation or {}).get("as_of")
        as_of = datetime.date.fromisoformat(stored) if stored else datetime.date.max
    points = [MeasurementPoint(date=m.date, value=m.value, recorded_at=m.recorded_at) for m in measurements]
    return kpi_point_rows(points, baseline_date=kpi.baseline_date, as_of=as_of)


def unit_target_sentence(unit: dict) -> str:
    """Which baseline and target a reporting unit's status was judged against, and why (the ``unit``
    entry of a ``UnitStatus`` explanation, written by ``plans.aggregation``)."""
    numbers = {
        name: fmt_number(unit.get(name)) for name in ("baseline", "target", "national_baseline", "national_target")
    }
    rule = unit.get("rule")
    if rule == "unit_target":
        return _("This unit is judged against its own baseline, %(baseline)s, and target, %(target)s.") % numbers
    if rule == "scaled":
        return _(
            "This unit is judged against the national baseline %(national_baseline)s and target "
            "%(national_target)s scaled by its share of the national figure in the period ending %(period)s, "
            "%(share)s: a baseline of %(baseline)s and a target of %(target)s."
        ) % {**numbers, "period": unit.get("share_period"), "share": fmt_percent(unit.get("share"))}
    if rule == "national":
        return (
            _(
                "This figure is a rate, so every unit is held to the national baseline, %(baseline)s, and target, "
                "%(target)s."
            )
            % numbers
        )
    return _(
        "This unit has no figure for a period with a national one, so its share of the national target is "
        "unknown and it has no status; a target for the unit would give it one."
    )


# --- KPI ----------------------------------------------------------------------------------


def _kpi(e: dict) -> Explained | None:
    inputs, values, thresholds, rule = e["inputs"], e["values"], e["thresholds"], e["rule"]
    target, target_date = fmt_number(inputs["target_value"]), fmt_date(inputs["target_date"])
    baseline = {"baseline": fmt_number(inputs["baseline_value"]), "baseline_date": fmt_date(inputs["baseline_date"])}
    latest = {"latest": fmt_number(values.get("latest_value")), "latest_date": fmt_date(values.get("latest_date"))}
    out: list[str] = []
    if rule == "kpi.no_data":
        out.append(
            _(
                "No figure has been reported after the baseline date (%(baseline_date)s) up to %(as_of)s, "
                "so there is no status yet."
            )
            % {"baseline_date": fmt_date(inputs["baseline_date"]), "as_of": fmt_date(e["as_of"])}
        )
    elif rule == "kpi.achieved":
        out.append(
            _("The latest value, %(latest)s on %(latest_date)s, meets the target of %(target)s.")
            % {**latest, "target": target}
        )
    elif rule == "kpi.missed":
        out.append(
            _(
                "The final figure, %(latest)s on %(latest_date)s, falls short of the target of %(target)s "
                "due %(target_date)s."
            )
            % {**latest, "target": target, "target_date": target_date}
        )
        if values.get("final_ratio") is not None:
            out.append(
                _("It made %(share)s of the required change from the baseline %(baseline)s.")
                % {"share": fmt_percent(values["final_ratio"]), "baseline": baseline["baseline"]}
            )
    elif rule == "kpi.hold_the_line":
        out.append(
            _(
                "The target of %(target)s asks to hold the line from the baseline %(baseline)s; the latest value, "
                "%(latest)s on %(latest_date)s, falls short, so the KPI is off track."
            )
            % {**latest, **baseline, "target": target}
        )
    elif rule in ("kpi.ratio", "kpi.final_figure_overdue"):
        out.append(
            _(
                "Forecast %(forecast)s by %(target_date)s covers %(ratio)s of the required change; "
                "%(needed)s is needed to be on track."
            )
            % {
                "forecast": fmt_number(values["forecast"]),
                "target_date": target_date,
                "ratio": fmt_percent(values["ratio"]),
                "needed": fmt_percent(thresholds["on_track_ratio"]),
            }
        )
        out.append(
            _("The required change is from %(baseline)s (%(baseline_date)s) to %(target)s (%(target_date)s).")
            % {**baseline, "target": target, "target_date": target_date}
        )
        points = int(values.get("kept_measurements", 0))
        out.append(
            ngettext(
                "The forecast is a straight line fitted through the baseline and %(count)d measurement, "
                "the latest %(latest)s on %(latest_date)s.",
                "The forecast is a straight line fitted through the baseline and %(count)d measurements, "
                "the latest %(latest)s on %(latest_date)s.",
                points,
            )
            % {"count": points, **latest}
        )
        if values.get("forecast_low") is not None:
            out.append(
                _("The 95%% prediction interval at the target date runs from %(low)s to %(high)s.")
                % {"low": fmt_number(values["forecast_low"]), "high": fmt_number(values["forecast_high"])}
            )
        out.append(
            _("Below %(on_track)s of the required change a KPI is at risk, and below %(at_risk)s it is off track.")
            % {
                "on_track": fmt_percent(thresholds["on_track_ratio"]),
                "at_risk": fmt_percent(thresholds["at_risk_ratio"]),
            }
        )
        if values.get("final_figure_overdue"):
            due = {"date": fmt_date(values["final_figure_due_by"]), "days": int(values["allowance_days"])}
            if rule == "kpi.final_figure_overdue":
                out.append(
                    _(
                        "The final figure was due by %(date)s, %(days)d days after the target date, and has not "
                        "come in; a forecast cannot stand in for it any longer, so the KPI is at risk at best."
                    )
                    % due
                )
            else:
                out.append(
                    _("The final figure was due by %(date)s, %(days)d days after the target date, and has not come in.")
                    % due
                )
    else:
        return None
    if values.get("score") is not None:
        out.append(_("Score %(score)s on a scale from −5 to +5.") % {"score": fmt_number(values["score"])})
    out.extend(_stale_sentences(values, inputs, thresholds))
    return Explained(sentences=out)


def _stale_sentences(values: dict, inputs: dict, thresholds: dict) -> list[str]:
    reasons = values.get("stale_reasons") or []
    out = []
    if STALE_OLDER_THAN_FREQUENCY in reasons:
        try:
            frequency = str(Frequency(inputs["frequency"]).label).lower()
        except ValueError:
            frequency = inputs["frequency"]
        days = int(values.get("days_since_latest", 0))
        out.append(
            ngettext(
                "The data is stale: the latest figure is %(days)d day old, more than the %(limit)d days "
                "a %(frequency)s KPI allows.",
                "The data is stale: the latest figure is %(days)d days old, more than the %(limit)d days "
                "a %(frequency)s KPI allows.",
                days,
            )
            % {"days": days, "limit": thresholds["stale_after_days"], "frequency": frequency}
        )
    # Once the final figure is overdue, the sentence above on it replaces this one.
    if STALE_NO_FINAL_FIGURE in reasons and not values.get("final_figure_overdue"):
        out.append(
            _("The target date %(date)s has passed without a final figure; the forecast stands in for it.")
            % {"date": fmt_date(inputs["target_date"])}
        )
    return out


# --- milestone ----------------------------------------------------------------------------


def _milestone(e: dict) -> Explained | None:
    inputs, values, thresholds, rule = e["inputs"], e["values"], e["thresholds"], e["rule"]
    percent = fmt_percent(inputs["percent_complete"] / 100)
    if rule == "milestone.cancelled":
        out = [_("The milestone is cancelled and left out of roll-ups.")]
    elif rule == "milestone.complete":
        out = [_("The milestone is complete.")]
    elif rule == "milestone.not_started":
        out = [
            _("The milestone starts on %(date)s and has not started yet.") % {"date": fmt_date(inputs["start_date"])}
        ]
    elif rule == "milestone.overdue":
        days = int(values.get("days_overdue", 0))
        out = [
            ngettext(
                "The milestone was due on %(due)s and is %(percent)s complete: %(days)d day late.",
                "The milestone was due on %(due)s and is %(percent)s complete: %(days)d days late.",
                days,
            )
            % {"due": fmt_date(inputs["due_date"]), "percent": percent, "days": days}
        ]
    elif rule in ("milestone.spi", "milestone.variance", "milestone.blocked_cap"):
        out = [
            _(
                "%(percent)s is complete against %(planned)s planned by %(as_of)s (schedule performance "
                "%(spi)s); %(on_track)s is needed to be on track and %(at_risk)s to be at risk."
            )
            % {
                "percent": percent,
                "planned": fmt_percent(values["planned_share"]),
                "as_of": fmt_date(e["as_of"]),
                "spi": fmt_number(values["spi"]),
                "on_track": fmt_number(thresholds["spi_on_track"]),
                "at_risk": fmt_number(thresholds["spi_at_risk"]),
            },
            _("The planned share is the time elapsed from %(start)s to %(due)s.")
            % {"start": fmt_date(inputs["start_date"]), "due": fmt_date(inputs["due_date"])},
        ]
        if "schedule_variance" in values:
            out.append(
                _(
                    "The schedule variance (complete minus planned) is %(points)s percentage points; from "
                    "%(on_track)s it is on track and from %(at_risk)s at risk, whatever the schedule performance."
                )
                % {
                    "points": fmt_number(values["schedule_variance"] * 100, 1),
                    "on_track": fmt_number(thresholds["sv_on_track"] * 100, 0),
                    "at_risk": fmt_number(thresholds["sv_at_risk"] * 100, 0),
                }
            )
        if rule == "milestone.blocked_cap":
            out.append(_("The milestone is blocked, so it is at best at risk."))
    else:
        return None
    if values.get("score") is not None:
        out.append(_("Score %(score)s on a scale from −5 to +5.") % {"score": fmt_number(values["score"])})
    return Explained(sentences=out)


# --- roll-up ------------------------------------------------------------------------------

# The items a roll-up's children are, by the kind in their key; plans.recompute labels each "<code> <name>", or a
# milestone by its title.
CHILD_MODELS = {ItemType.KPI: KPI, ItemType.MILESTONE: Milestone, ItemType.GOAL: Goal, ItemType.FOCUS_AREA: FocusArea}


def localised_labels(rows: list[dict]) -> dict[str, str]:
    """Key -> label in the reader's language, for the children whose item has a name in it other than the stored
    one: none for a reader of English (the stored labels are English); for Chinese one query per kind of child.
    An item deleted since, or without a Chinese name, keeps its stored label."""
    if not reads_chinese():
        return {}
    ids = defaultdict(set)
    for row in rows:
        kind, _sep, pk = str(row.get("key", "")).partition(":")
        if kind in CHILD_MODELS and pk.isascii() and pk.isdigit():
            ids[kind].add(int(pk))
    labels = {}
    for kind, pks in ids.items():
        model = CHILD_MODELS[kind]
        chinese = f"{model.BILINGUAL_FIELDS[0]}_zh"  # the name, or a goal's and milestone's title
        coded = kind != ItemType.MILESTONE
        for pk, code, name in (
            model.objects.filter(pk__in=pks)
            .exclude(**{chinese: ""})
            .values_list("pk", "code" if coded else "pk", chinese)
        ):
            labels[f"{kind}:{pk}"] = f"{code} {name}" if coded else name
    return labels


def _child_sentence(row: dict) -> str:
    label, status = row["label"], status_label(row["status"])
    if not row.get("included", True):
        return _("%(label)s (%(status)s) is left out.") % {"label": label, "status": status}
    if not row.get("scored"):
        return _("%(label)s (%(status)s) has no score yet and does not count.") % {"label": label, "status": status}
    pull = row.get("pull") or 0.0
    params = {"label": label, "status": status, "score": fmt_number(row["score"]), "pull": fmt_number(abs(pull))}
    if pull_direction(pull) < 0:
        return _("%(label)s (%(status)s, score %(score)s) pulls the score down by %(pull)s.") % params
    if pull_direction(pull) > 0:
        return _("%(label)s (%(status)s, score %(score)s) lifts the score by %(pull)s.") % params
    return _("%(label)s (%(status)s, score %(score)s) sits at the average.") % params


def _rollup(e: dict) -> Explained | None:
    values, thresholds, rule = e["values"], e["thresholds"], e["rule"]
    rows = e["inputs"]["children"]
    labels = localised_labels(rows)
    if labels:
        rows = [{**r, "label": labels.get(r["key"], r["label"])} for r in rows]
    children = [
        ChildRow(
            label=r["label"],
            key=r["key"],
            status=r["status"],
            weight=r.get("weight"),
            score=r.get("score"),
            pull=r.get("pull"),
            included=r.get("included", True),
            row=r,
        )
        for r in rows
    ]
    out: list[str] = []
    if rule == "rollup.no_data":
        count = len(rows)
        out.append(
            ngettext(
                "Its %(count)d item has no score yet, so there is no status.",
                "None of its %(count)d items has a score yet, so there is no status.",
                count,
            )
            % {"count": count}
        )
    elif rule == "rollup.all_achieved":
        out.append(_("Every item that counts is achieved or complete."))
    elif rule in ("rollup.weighted", "rollup.worst_child_guard"):
        out.append(
            _(
                "The weighted average score of its items is %(score)s on a scale from −5 to +5; "
                "%(on_track)s or more is on track, %(at_risk)s or more is at risk."
            )
            % {
                "score": fmt_number(values["score"]),
                "on_track": fmt_number(thresholds["on_track_score"]),
                "at_risk": fmt_number(thresholds["at_risk_score"]),
            }
        )
        scored, remaining = int(values["scored_count"]), int(values["remaining_count"])
        if scored < remaining:
            out.append(
                ngettext(
                    "%(scored)d of %(remaining)d item has a score; they carry %(coverage)s of the weight.",
                    "%(scored)d of %(remaining)d items have a score; they carry %(coverage)s of the weight.",
                    remaining,
                )
                % {"scored": scored, "remaining": remaining, "coverage": fmt_percent(values["coverage"])}
            )
        if rule == "rollup.worst_child_guard":
            out.append(
                _(
                    "Off-track, overdue or missed items carry %(share)s of the scored weight; from %(guard)s "
                    "the status is held at “at risk” even when the average is on track."
                )
                % {
                    "share": fmt_percent(values["worst_child_share"]),
                    "guard": fmt_percent(thresholds["worst_child_share"]),
                }
            )
        drags = [r for r in rows if r.get("scored") and pull_direction(r.get("pull")) < 0]
        if drags:
            worst = drags[0]
            out.append(
                _("The largest drag is %(label)s (%(status)s), which pulls the score down by %(pull)s.")
                % {"label": worst["label"], "status": status_label(worst["status"]), "pull": fmt_number(-worst["pull"])}
            )
    else:
        return None
    return Explained(sentences=out, children=children, coverage=fmt_percent(values.get("coverage")))


def explain_as_of(as_of, *, explanation: dict | None, status: str | None, score, progress) -> Explained:
    """The "Why?" at ``as_of`` (a date, or None for now) from what is stored for that day.

    Now, and at a month end, the stored explanation; a past day without one (not a month end)
    says what its snapshot keeps: status, score and progress.
    """
    if as_of is None or explanation:
        return explain(explanation)
    return explain_snapshot(as_of=as_of.isoformat(), status=status, score=score, progress=progress)


def explain_item(item, as_of) -> Explained:
    """The "Why?" of a dashboard row, which carries the ``as_of_*`` annotations of the dashboard selectors."""
    return explain_as_of(
        as_of,
        explanation=item.explanation if as_of is None else item.as_of_explanation,
        status=item.as_of_status,
        score=item.as_of_score,
        progress=item.as_of_progress,
    )
