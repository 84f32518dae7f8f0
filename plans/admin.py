"""Admin pages: list filters and search on every model; computed fields shown read-only."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .choices import ChangeChannel
from .exceptions import PlanClosed
from .models import (
    KPI,
    ApiToken,
    DefinitionChange,
    FocusArea,
    Goal,
    IdempotencyKey,
    Measurement,
    MeasurementRevision,
    Milestone,
    MilestoneUpdate,
    PeriodTarget,
    Plan,
    ReportingUnit,
    StatusSnapshot,
    Team,
    Tombstone,
    UnitTarget,
)
from .models.base import multi_line_validators
from .page_generation import generation_bump
from .permissions import can_change_definition
from .services.units import unit_parent_check

COMPUTED = ("status", "score", "progress", "computed_at", "explanation")
TRACKED = ("version", "created_at", "updated_at")


def plan_of(obj) -> Plan | None:
    """The plan ``obj`` is or belongs to: itself, its plan, or its parent's (a focus area, goal or KPI, also as a
    form left it before it is saved)."""
    if isinstance(obj, Plan):
        return obj
    for name in ("plan", "focus_area", "goal", "kpi"):
        if getattr(obj, f"{name}_id", None) is not None:
            return plan_of(getattr(obj, name))
    return None


def in_closed_plan(obj) -> bool:
    """Whether ``obj`` is, or belongs to, a closed plan: shown read-only, since the services refuse its writes."""
    plan = plan_of(obj)
    return bool(plan is not None and plan.is_closed)


class ServiceForm(forms.ModelForm):
    """Refuses, as a form error, an item added to (or moved into) a closed plan: the services' own check
    (``plan_open_check``), asked before the form is accepted rather than after; items already in a closed plan
    are shown read-only (``in_closed_plan``)."""

    def _post_clean(self):
        super()._post_clean()
        plan = plan_of(self.instance)
        if plan is not None and plan.pk is not None:
            try:
                services.plan_open_check(plan_id=plan.pk)
            except PlanClosed as refused:
                self.add_error(None, str(refused))


class ServiceAdmin(admin.ModelAdmin):
    """Admin writes go through the services, like every other write: validation, versions, history,
    tombstones for syncing clients and the plan's recompute."""

    form = ServiceForm

    # Admin access is given to managers (services.user_ensure(admin=True)); should a staff member be
    # made an admin user, the admin still leaves definitions to managers, like the API does.
    def has_add_permission(self, request):
        return super().has_add_permission(request) and can_change_definition(request.user)

    def has_change_permission(self, request, obj=None):
        return (
            super().has_change_permission(request, obj)
            and can_change_definition(request.user, obj)
            and not in_closed_plan(obj)
        )

    def has_delete_permission(self, request, obj=None):
        return (
            super().has_delete_permission(request, obj)
            and can_change_definition(request.user, obj)
            and not in_closed_plan(obj)
        )

    def save_model(self, request, obj, form, change):
        saved = self.service_save(request, obj, form, change)
        if saved is not None:
            obj.pk = saved.pk

    def delete_model(self, request, obj):
        self.service_delete(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.service_delete(request, obj)

    def service_save(self, request, obj, form, change):
        raise NotImplementedError

    def service_delete(self, request, obj):
        raise NotImplementedError


ADMIN = ChangeChannel.ADMIN


class StructureAdmin(ServiceAdmin):
    def service_save(self, request, obj, form, change):
        services.structure_save(item=obj, is_new=not change, author=request.user, channel=ADMIN)


class GoalChildAdmin(ServiceAdmin):
    """Goals, milestones and KPIs: ``create_service`` / ``update_service`` / ``delete_service`` by name."""

    item_arg = ""

    def service_save(self, request, obj, form, change):
        model_fields = {f.name for f in obj._meta.concrete_fields}
        if not change:
            data = {name: value for name, value in form.cleaned_data.items() if name in model_fields}
            return getattr(services, f"{self.item_arg}_create")(data=data, author=request.user, channel=ADMIN)
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in model_fields}
        update = getattr(services, f"{self.item_arg}_update")
        return update(**{self.item_arg: obj}, data=data, author=request.user, channel=ADMIN)

    def service_delete(self, request, obj):
        delete = getattr(services, f"{self.item_arg}_delete")
        delete(**{self.item_arg: obj}, deleted_by=request.user, channel=ADMIN)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs and derived rows: written only by the services and the status engine."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Team)
class TeamAdmin(ServiceAdmin):
    list_display = ("name", "name_zh", "updated_at")
    search_fields = ("name", "name_zh", "members__username")
    filter_horizontal = ("members",)
    readonly_fields = TRACKED

    def service_save(self, request, obj, form, change):
        members = form.cleaned_data.get("members")
        if not change:
            return services.team_create(
                name=obj.name, name_zh=obj.name_zh, members=members or (), author=request.user, channel=ADMIN
            )
        data = {name: form.cleaned_data[name] for name in form.changed_data if name != "members"}
        members = members if "members" in form.changed_data else None
        return services.team_update(team=obj, data=data, members=members, author=request.user, channel=ADMIN)

    def save_related(self, request, form, formsets, change):
        """The members were set by the service, in the save's transaction and history."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def service_delete(self, request, obj):
        services.team_delete(team=obj, deleted_by=request.user, channel=ADMIN)


@admin.register(Plan)
class PlanAdmin(StructureAdmin):
    list_display = ("name", "name_zh", "slug", "baseline_year", "start_date", "end_date", "status", "score")
    list_filter = ("status", "baseline_year")
    search_fields = ("name", "name_zh", "slug", "description", "description_zh")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = (*COMPUTED, *TRACKED, "data_revision", "computed_revision")

    def service_delete(self, request, obj):
        services.plan_delete(plan=obj, deleted_by=request.user, channel=ADMIN)


@admin.register(FocusArea)
class FocusAreaAdmin(StructureAdmin):
    list_display = ("code", "name", "name_zh", "plan", "order", "weight", "status", "score")
    list_filter = ("plan", "status")
    search_fields = ("code", "name", "name_zh", "description", "description_zh")
    list_select_related = ("plan",)
    readonly_fields = (*COMPUTED, *TRACKED)

    def service_delete(self, request, obj):
        services.focus_area_delete(focus_area=obj, deleted_by=request.user, channel=ADMIN)


@admin.register(Goal)
class GoalAdmin(GoalChildAdmin):
    item_arg = "goal"
    list_display = ("code", "title", "title_zh", "focus_area", "owner_team", "weight", "due_date", "status", "score")
    list_filter = ("plan", "focus_area", "owner_team", "status")
    search_fields = ("code", "title", "title_zh", "description", "description_zh", "external_id")
    list_select_related = ("focus_area", "owner_team")
    readonly_fields = (*COMPUTED, *TRACKED)


class MilestoneAdminForm(ServiceForm):
    """The milestone with the progress log's note; progress is checked by the service's own rules."""

    note = forms.CharField(
        label=_("Progress note"),
        required=False,
        validators=multi_line_validators,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Logged with a change of percent or state; required when blocked or going down."),
    )

    class Meta:
        model = Milestone
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets decide what is shown

    def clean(self):
        cleaned = super().clean()
        percent, state = cleaned.get("percent_complete"), cleaned.get("state")
        if percent is None or not state:
            return cleaned
        previous = self.instance.percent_complete if self.instance.pk else 0
        if self.instance.pk and (percent, state) == (previous, self.instance.state):
            return cleaned  # progress unchanged: nothing is logged, so nothing to check
        try:
            services.milestone_progress_check(
                previous_percent=previous, percent_complete=percent, state=state, note=cleaned.get("note", "")
            )
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned


@admin.register(Milestone)
class MilestoneAdmin(GoalChildAdmin):
    item_arg = "milestone"
    form = MilestoneAdminForm
    list_display = ("title", "title_zh", "goal", "owner_team", "due_date", "percent_complete", "state", "status")
    list_filter = ("plan", "state", "status", "owner_team")
    search_fields = ("title", "title_zh", "description", "description_zh", "goal__code", "external_id")
    list_select_related = ("goal", "owner_team")
    date_hierarchy = "due_date"
    readonly_fields = (*COMPUTED, *TRACKED)

    def service_save(self, request, obj, form, change):
        model_fields = {f.name for f in obj._meta.concrete_fields}
        note = form.cleaned_data.get("note", "")
        if not change:
            data = {name: value for name, value in form.cleaned_data.items() if name in model_fields}
            return services.milestone_create(data=data, note=note, author=request.user)
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in model_fields}
        return services.milestone_update(milestone=obj, data=data, author=request.user, note=note)


@admin.register(MilestoneUpdate)
class MilestoneUpdateAdmin(ReadOnlyAdmin):
    list_display = ("milestone", "percent_complete", "state", "author", "author_token", "created_at")
    list_filter = ("state",)
    search_fields = ("milestone__title", "note")
    list_select_related = ("milestone", "author", "author_token")
    readonly_fields = ("created_at", "updated_at")


class PeriodTargetInline(admin.TabularInline):
    """The KPI's planned value per period (an S-curve): drawn on its chart and compared on its page."""

    model = PeriodTarget
    extra = 1
    fields = ("period_end", "target_value")

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and can_change_definition(request.user, obj)

    def has_change_permission(self, request, obj=None):
        return (
            super().has_change_permission(request, obj)
            and can_change_definition(request.user, obj)
            and not in_closed_plan(obj)
        )

    def has_delete_permission(self, request, obj=None):
        return (
            super().has_delete_permission(request, obj)
            and can_change_definition(request.user, obj)
            and not in_closed_plan(obj)
        )


@admin.register(KPI)
class KPIAdmin(GoalChildAdmin):
    item_arg = "kpi"
    inlines = (PeriodTargetInline,)
    list_display = (
        "code",
        "name",
        "name_zh",
        "unit",
        "baseline_value",
        "target_value",
        "latest_value",
        "forecast_value",
        "status",
        "stale",
    )
    list_filter = ("plan", "direction", "frequency", "status", "stale", "owner_team")
    search_fields = ("code", "name", "name_zh", "external_id", "source_note")
    list_select_related = ("goal", "owner_team")
    readonly_fields = (
        *COMPUTED,
        *TRACKED,
        "forecast_value",
        "forecast_low",
        "forecast_high",
        "latest_value",
        "latest_date",
        "stale",
    )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Planned values change no status (no recompute), but the KPI's cached page draws them.
        if any(formset.has_changed() for formset in formsets):
            generation_bump()


@admin.register(Measurement)
class MeasurementAdmin(ServiceAdmin):
    """Measurements are recorded through the staff forms and the API; here a manager may only delete one."""

    list_display = ("kpi", "date", "value", "source", "recorded_by", "recorded_by_token", "recorded_at")
    list_filter = ("source", "kpi__plan")
    search_fields = ("kpi__code", "kpi__name", "kpi__name_zh", "note", "external_id")
    list_select_related = ("kpi", "recorded_by", "recorded_by_token")
    date_hierarchy = "date"
    readonly_fields = TRACKED

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def service_delete(self, request, obj):
        services.measurement_delete(measurement=obj, deleted_by=request.user)


@admin.register(MeasurementRevision)
class MeasurementRevisionAdmin(ReadOnlyAdmin):
    list_display = ("measurement", "previous_value", "value", "author", "author_token", "created_at")
    search_fields = ("measurement__kpi__code", "note")
    list_select_related = ("measurement__kpi", "author", "author_token")


@admin.register(StatusSnapshot)
class StatusSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("item_type", "item_id", "as_of", "status", "score", "progress", "forecast")
    list_filter = ("plan", "item_type", "status")
    date_hierarchy = "as_of"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with ``manage.py create_api_token`` (the key is shown once); here they are revoked."""

    list_display = (
        *("name", "prefix", "scope", "authoritative", "team", "created_by", "created_at", "last_used_at"),
        "revoked_at",
    )
    list_filter = ("scope", "authoritative", "team", "revoked_at")
    search_fields = ("name", "prefix")
    list_select_related = ("team", "created_by")
    fields = (
        *("name", "prefix", "scope", "authoritative", "team", "units", "created_by", "created_at", "last_used_at"),
        "revoked_at",
    )
    # A token's units are given when it is created (create_api_token --unit); shown here, not changed.
    readonly_fields = ("prefix", "units", "created_by", "created_at", "last_used_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, ngettext("%d token revoked.", "%d tokens revoked.", count) % count)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    """Written by the API and purged by the nightly housekeeping; an edit would replay a forged response."""

    list_display = ("actor", "key", "response_status", "created_at")
    search_fields = ("actor", "key")


@admin.register(Tombstone)
class TombstoneAdmin(ReadOnlyAdmin):
    """Written by the delete services and purged by the nightly housekeeping; syncing clients rely on them."""

    list_display = (
        "resource",
        "item_id",
        "plan_id",
        "source",
        "external_id",
        "deleted_by",
        "deleted_by_token",
        "deleted_at",
    )
    list_filter = ("resource",)
    search_fields = ("external_id",)
    list_select_related = ("deleted_by", "deleted_by_token")
    date_hierarchy = "deleted_at"


@admin.register(DefinitionChange)
class DefinitionChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "item_type",
        "item_id",
        "action",
        "field",
        "old_value",
        "new_value",
        "changed_by",
        "changed_by_token",
        "channel",
        "changed_at",
    )
    list_filter = ("item_type", "action", "channel")
    search_fields = ("field",)
    list_select_related = ("changed_by", "changed_by_token")
    date_hierarchy = "changed_at"


class ReportingUnitAdminForm(ServiceForm):
    def clean(self):
        cleaned = super().clean()
        if cleaned.get("level"):
            try:
                unit_parent_check(level=cleaned["level"], parent=cleaned.get("parent"))
            except ValidationError as exc:
                self.add_error(None, exc.message_dict["parent"])
        return cleaned


@admin.register(ReportingUnit)
class ReportingUnitAdmin(ServiceAdmin):
    """The register (also imported from CSV/XLSX on the manager page /units/register/). A unit is never deleted
    here: a zone that is merged or revoked gets an end of its active period and keeps its figures."""

    form = ReportingUnitAdminForm
    list_display = ("code", "name_en", "name_zh", "level", "parent", "zone_count", "active_from", "active_until")
    list_filter = ("level", "parent")
    search_fields = ("code", "name_en", "name_zh", "reporters__username")
    list_select_related = ("parent",)
    filter_horizontal = ("reporters",)
    readonly_fields = TRACKED
    fields = (
        "code",
        "name_en",
        "name_zh",
        "level",
        "parent",
        "zone_count",
        "active_from",
        "active_until",
        "order",
        "reporters",
        *TRACKED,
    )

    def has_delete_permission(self, request, obj=None):
        return False

    def service_save(self, request, obj, form, change):
        reporters = form.cleaned_data.get("reporters")
        fields = [name for name in self.fields if name not in ("reporters", *TRACKED)]
        if not change:
            data = {name: form.cleaned_data[name] for name in fields if name in form.cleaned_data}
            return services.unit_create(**data, reporters=reporters or ())
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in fields}
        reporters = reporters if "reporters" in form.changed_data else None
        return services.unit_update(unit=obj, data=data, reporters=reporters)

    def save_related(self, request, form, formsets, change):
        """The reporters were set by the service, in the save's transaction."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(UnitTarget)
class UnitTargetAdmin(ServiceAdmin):
    list_display = ("kpi", "unit", "baseline_value", "target_value")
    list_filter = ("kpi__plan", "unit__level")
    search_fields = ("kpi__code", "unit__code", "unit__name_en", "unit__name_zh")
    list_select_related = ("kpi", "unit")
    autocomplete_fields = ("unit",)

    def get_readonly_fields(self, request, obj=None):
        return ("kpi", "unit") if obj else ()

    def service_save(self, request, obj, form, change):
        return services.unit_target_set(
            kpi=obj.kpi, unit=obj.unit, baseline_value=obj.baseline_value, target_value=obj.target_value
        )

    def service_delete(self, request, obj):
        services.unit_target_delete(target=obj)
