"""A whole plan's file: its export (XLSX, YAML), the templates, and the import for managers: upload, preview, apply.

The preview keeps the uploaded document in the session (as YAML), under a token the apply form carries, so
what is applied is exactly what was previewed, without uploading the file again.
"""

import secrets

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from .. import services
from ..models import Plan
from ..permissions import is_manager, unit_scope
from ..plan_document import plan_document
from ..plan_files import MAX_UPLOAD_BYTES, PlanFileInvalid, plan_file_read, plan_template, plan_xlsx, plan_yaml

SESSION_KEY = "plan_import"
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "yaml": "application/yaml; charset=utf-8",
}


class PlanFileUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Plan file"),
        help_text=gettext_lazy("XLSX or YAML with the sheets and columns of the template; at most 10 MB."),
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        if not file.name.lower().endswith((".xlsx", ".yaml", ".yml")):
            raise forms.ValidationError(gettext_lazy("Upload a .xlsx, .yaml or .yml file."), code="file_type")
        if file.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(gettext_lazy("The file is larger than 10 MB."), code="file_size")
        return file


def _file_response(data: bytes, fmt: str, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_safe
def plan_export(request, slug, fmt):
    """The whole plan as a file; a zone reporter's holds the national figures and their own zones' only."""
    plan = get_object_or_404(Plan, slug=slug)
    document = plan_document(plan, units=unit_scope(request.user))
    data = plan_xlsx(document) if fmt == "xlsx" else plan_yaml(document)
    return _file_response(data, fmt, f"{plan.slug}.{fmt}")


@login_required
@require_safe
def plan_file_template(request, slug, fmt):
    template = plan_template()
    data = plan_xlsx(template) if fmt == "xlsx" else plan_yaml(template)
    return _file_response(data, fmt, f"plan_template.{fmt}")


def _page(request, plan, *, form=None, errors=None, status=200):
    context = {
        "plan": plan,
        "form": form or PlanFileUploadForm(),
        "import_errors": errors,
        "can_import": is_manager(request.user),
    }
    return render(request, "plans/plan_files/import.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def plan_import(request, slug):
    """GET: the page (export links for everyone, the upload for managers); POST: the preview of an upload."""
    plan = get_object_or_404(Plan, slug=slug)
    if request.method == "GET":
        return _page(request, plan)
    if not is_manager(request.user):
        raise PermissionDenied
    form = PlanFileUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, plan, form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        document, first_row = plan_file_read(upload.read(), filename=upload.name)
        preview = services.plan_import_preview(
            document=document, slug=plan.slug, author=request.user, first_row=first_row
        )
    except PlanFileInvalid as exc:
        return _page(request, plan, form=form, errors=exc.errors, status=400)
    token = secrets.token_urlsafe(16)
    request.session[SESSION_KEY] = {
        "token": token,
        "slug": plan.slug,
        "document": plan_yaml(document).decode("utf-8"),
        "first_row": first_row,
        "filename": upload.name,
    }
    context = {"plan": plan, "preview": preview, "token": token, "filename": upload.name}
    return render(request, "plans/plan_files/preview.html", context)


@login_required
@require_POST
def plan_import_apply(request, slug):
    """Apply the previewed document (by its token) in one transaction; any error and nothing changes."""
    plan = get_object_or_404(Plan, slug=slug)
    if not is_manager(request.user):
        raise PermissionDenied
    pending = request.session.get(SESSION_KEY)
    given = request.POST.get("token", "")
    if not pending or pending["slug"] != plan.slug or not secrets.compare_digest(pending["token"], given):
        messages.error(request, _("That preview is no longer open (applied or replaced): upload the file again."))
        return redirect("plans:plan_import", slug=plan.slug)
    try:
        document, _row = plan_file_read(pending["document"].encode("utf-8"), filename="pending.yaml")
        result = services.plan_import_apply(
            document=document, slug=plan.slug, author=request.user, first_row=pending["first_row"]
        )
    except PlanFileInvalid as exc:
        del request.session[SESSION_KEY]
        return _page(request, plan, errors=exc.errors, status=400)
    del request.session[SESSION_KEY]
    messages.success(
        request,
        _("%(file)s imported: %(created)d created, %(changed)d changed, %(deleted)d deleted.")
        % {
            "file": pending["filename"],
            "created": result.created_count,
            "changed": result.changed_count,
            "deleted": result.deleted_count,
        },
    )
    return redirect("plans:dashboard", slug=plan.slug)
