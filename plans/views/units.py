"""The reporting-unit register for managers: the tree by province, and the upload of a CSV or XLSX register."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.http import FileResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from .. import services
from ..choices import UnitLevel
from ..demo import UNITS_TEMPLATE_FILE
from ..models import ReportingUnit
from ..permissions import is_manager

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class UnitRegisterUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Register file"),
        help_text=_("CSV (UTF-8) or XLSX with the columns of the template; at most 5 MB."),
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        if not file.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."), code="file_type")
        if file.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."), code="file_size")
        return file


def _register_tree():
    """The nation, each province under it with its zones (in register order), in two queries."""
    units = list(
        ReportingUnit.objects.annotate(
            reporter_count=Count("reporters", distinct=True),
        ).order_by("order", "code")
    )
    children: dict[int | None, list[ReportingUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    for unit in units:
        unit.units_under = children.get(unit.pk, [])
        if unit.level == UnitLevel.PROVINCE:
            unit.zones_total = sum(zone.zone_count for zone in unit.units_under)
    return [unit for unit in units if unit.level == UnitLevel.NATION]


@login_required
@require_http_methods(["GET", "POST"])
def unit_register(request):
    if not is_manager(request.user):
        raise PermissionDenied
    result = errors = None
    if request.method == "POST":
        form = UnitRegisterUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                rows = services.units_read_file(upload, filename=upload.name)
                result = services.units_import(rows=rows)
            except services.UnitImportInvalid as exc:
                errors = exc.errors
            else:
                form = UnitRegisterUploadForm()
    else:
        form = UnitRegisterUploadForm()
    nations = _register_tree()
    totals = ReportingUnit.objects.aggregate(
        zones=Sum("zone_count", filter=Q(level=UnitLevel.ZONE)),
        provinces=Count("pk", filter=Q(level=UnitLevel.PROVINCE)),
    )
    context = {
        "form": form,
        "result": result,
        "import_errors": errors,
        "nations": nations,
        "zones_total": totals["zones"] or 0,
        "province_count": totals["provinces"],
    }
    status = 400 if (errors or form.errors) else 200
    return render(request, "plans/units/register.html", context, status=status)


@login_required
def unit_register_template(request):
    """The example register (CSV) managers start from."""
    if not is_manager(request.user):
        raise PermissionDenied
    return FileResponse(UNITS_TEMPLATE_FILE.open("rb"), as_attachment=True, filename="units_template.csv")
