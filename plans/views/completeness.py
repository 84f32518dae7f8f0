"""The completeness page of a plan (who reported what, per KPI and period) and its CSV and XLSX export.

Managers see every row, staff the rows of the KPIs their teams own, a zone reporter the rows of their
zones (``plans.completeness.viewer_scope``). The page is not kept in the page cache: submissions move
without a status write, and its rows differ per viewer.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from .. import completeness, exports, selectors
from ..completeness import NATIONAL, STATE_LABELS, STATES, ZONE, Filters
from ..models import KPI, FocusArea, ReportingUnit, Team
from .dashboard import AsOf, _in_language, _is_demo, page_context

TABLES_PER_PAGE = 10


class CompletenessFilterForm(forms.Form):
    focus_area = forms.ModelChoiceField(
        queryset=FocusArea.objects.none(), required=False, label=gettext_lazy("Focus area")
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label=gettext_lazy("Owner team"))
    level = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Reported by"),
        choices=[
            ("", gettext_lazy("Anyone")),
            (NATIONAL, gettext_lazy("Teams (national figures)")),
            (ZONE, gettext_lazy("Zones")),
        ],
    )
    unit = forms.ModelChoiceField(
        queryset=ReportingUnit.objects.none(), required=False, label=gettext_lazy("Province or zone")
    )
    kpi = forms.ModelChoiceField(queryset=KPI.objects.none(), required=False, label=gettext_lazy("KPI"))
    period_from = forms.DateField(
        required=False, label=gettext_lazy("Periods ending from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    period_to = forms.DateField(
        required=False, label=gettext_lazy("to"), widget=forms.DateInput(attrs={"type": "date"})
    )
    state = forms.ChoiceField(
        required=False,
        label=gettext_lazy("State"),
        choices=[("", gettext_lazy("Any")), *((s, STATE_LABELS[s]) for s in STATES)],
    )

    def __init__(self, data, *, plan, scope: completeness.Scope):
        super().__init__(data)
        self.fields["focus_area"].queryset = FocusArea.objects.filter(plan=plan).order_by("code")
        self.fields["team"].queryset = Team.objects.filter(kpis__plan=plan).distinct().order_by("name")
        units = ReportingUnit.objects.exclude(level="nation").order_by("level", "order", "code")
        if not scope.everything and not scope.team_ids:  # a zone reporter: their own zones only
            units = units.filter(pk__in=scope.unit_ids)
        self.fields["unit"].queryset = units
        self.fields["kpi"].queryset = KPI.objects.filter(plan=plan).order_by("code")
        self.fields["kpi"].label_from_instance = lambda kpi: f"{kpi.code} {kpi.tr.name}"

    def filters(self) -> Filters:
        if not self.is_valid():
            return Filters()
        data = self.cleaned_data
        return Filters(
            focus_area_id=data["focus_area"].pk if data["focus_area"] else None,
            team_id=data["team"].pk if data["team"] else None,
            unit_id=data["unit"].pk if data["unit"] else None,
            level=data["level"],
            kpi_id=data["kpi"].pk if data["kpi"] else None,
            period_from=data["period_from"],
            period_to=data["period_to"],
            state=data["state"],
        )

    def active(self) -> list[tuple[str, str]]:
        if not self.is_valid():
            return []
        shown = []
        for name, value in self.cleaned_data.items():
            if value in (None, ""):
                continue
            field = self.fields[name]
            if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
                value = dict(field.choices).get(value, value)
            shown.append((str(field.label), str(value)))
        return shown


def _matrix(request, plan):
    scope = completeness.viewer_scope(request.user)
    form = CompletenessFilterForm(request.GET, plan=plan, scope=scope)
    today = timezone.localdate()
    matrix = completeness.completeness_matrix(plan=plan, today=today, filters=form.filters(), scope=scope)
    return form, matrix, today, scope


@login_required
@require_safe
def completeness_page(request, slug):
    plan = selectors.dashboard_plan_get(slug=slug)
    form, matrix, today, scope = _matrix(request, plan)
    team_ids = None if scope.everything else scope.team_ids
    context = page_context(request, plan, AsOf()) | {
        "form": form,
        "active_filters": form.active(),
        "matrix": matrix,
        "tables": Paginator(matrix.tables, TABLES_PER_PAGE).get_page(request.GET.get("page")),
        "milestones": completeness.milestone_months(plan=plan, today=today, team_ids=team_ids)
        if scope.everything or scope.team_ids
        else [],
    }
    context["title"] = _("Completeness")
    return render(request, "plans/completeness/matrix.html", context)


def _rows(matrix):
    for table in matrix.tables:
        kpi = table.kpi
        for row in table.rows:
            for end in table.periods:
                cell = row.cells.get(end)
                if cell is None:
                    continue
                yield [
                    kpi.code,
                    kpi.tr.name,
                    row.unit.code if row.unit else "",
                    row.name,
                    row.team_name,
                    completeness.period_label(kpi.frequency, end),
                    end,
                    cell.due_date,
                    cell.label,
                    timezone.localtime(cell.at).strftime("%Y-%m-%d %H:%M") if cell.at else "",
                ]


@login_required
@require_safe
def completeness_export(request, slug, fmt):
    plan = selectors.dashboard_plan_get(slug=slug)
    form, matrix, today, _scope = _matrix(request, plan)
    header = [
        _("KPI code"),
        _("KPI"),
        _("Unit code"),
        _("Reporter"),
        _("Owner team"),
        _("Period"),
        _("Period end"),
        _("Due date"),
        _("State"),
        _("Figure arrived"),
    ]
    rate = matrix.on_time_rate
    meta = [
        [_("Plan"), plan.tr.name],
        [_("Filters"), "; ".join(f"{label}: {value}" for label, value in form.active()) or _("none")],
        [_("Exported at"), timezone.localtime().strftime("%Y-%m-%d %H:%M %Z")],
        [_("Due so far"), matrix.due],
        [_("On time"), matrix.on_time],
        [_("On-time rate (%)"), round(rate * 100, 1) if rate is not None else ""],
    ]
    if _is_demo(plan):
        meta.append([_("Note"), _("Illustrative demo data.")])
    stem = f"{plan.slug}-completeness-{today.isoformat()}"
    if fmt == "csv":
        chunks = _in_language(
            translation.get_language(), exports.csv_chunks(meta=meta, header=header, rows=_rows(matrix))
        )
        response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = FileResponse(
            exports.to_xlsx(title=_("Completeness"), meta=meta, header=header, rows=_rows(matrix)),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        raise Http404
    response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return response
