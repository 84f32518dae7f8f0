"""Users and team membership, managed by managers (``/manage/users/``, ``/manage/teams/``).

A new user gets a random one-time password, shown once on the page that created it (never stored in
clear, never sent again); deactivating a user stops their sign-in and keeps their name on what they
wrote. Team membership is changed through ``team_update``: versioned and kept in the team's history.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from .. import services
from ..models import Team
from ..permissions import MANAGER, ROLE_LABELS, STAFF
from .manage import _stale_message, manager_required


class UserCreateForm(forms.Form):
    username = forms.CharField(
        label=gettext_lazy("Username"),
        max_length=150,
        help_text=gettext_lazy("Letters, digits and @ . + - _ only; used to sign in."),
    )
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=gettext_lazy("Email"), required=False)
    role = forms.ChoiceField(
        label=gettext_lazy("Role"),
        choices=[(STAFF, ROLE_LABELS[STAFF]), (MANAGER, ROLE_LABELS[MANAGER])],
        initial=STAFF,
        help_text=gettext_lazy("Staff update their teams' items; managers change plans, users and teams."),
    )
    teams = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Teams"),
        queryset=Team.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class MemberAddForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    user = forms.ModelChoiceField(label=gettext_lazy("Add a member"), queryset=get_user_model().objects.none())

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (
            get_user_model().objects.filter(is_active=True).exclude(teams=team).order_by("username")
        )
        self.fields["version"].initial = team.version


@manager_required
@require_safe
def user_list(request):
    users = (
        get_user_model()
        .objects.order_by("username")
        .prefetch_related("groups", Prefetch("teams", Team.objects.order_by("name")))
    )
    rows = []
    for user in users:
        role = MANAGER if any(group.name == MANAGER for group in user.groups.all()) else STAFF
        rows.append({"user": user, "role": ROLE_LABELS[role], "teams": list(user.teams.all())})
    return render(request, "plans/manage/user_list.html", {"rows": rows})


@manager_required
@require_http_methods(["GET", "POST"])
def user_new(request):
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, password = services.user_create(
                username=data["username"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                role=data["role"],
                teams=data["teams"],
            )
        except ValidationError as exc:
            for field, errors in exc.error_dict.items() if hasattr(exc, "error_dict") else [(None, exc)]:
                form.add_error(field if field in form.fields else None, errors)
        else:
            # Shown on this response only: the page is not cached and the password is not kept anywhere.
            response = render(request, "plans/manage/user_created.html", {"new_user": user, "password": password})
            add_never_cache_headers(response)
            return response
    return render(request, "plans/manage/user_form.html", {"form": form}, status=400 if form.is_bound else 200)


@manager_required
@require_http_methods(["POST"])
def user_active(request, pk):
    user = get_object_or_404(get_user_model(), pk=pk)
    active = request.POST.get("active") == "1"
    try:
        services.user_set_active(user=user, active=active, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if active:
            messages.success(request, _("%(user)s can sign in again.") % {"user": user.get_username()})
        else:
            messages.success(request, _("%(user)s is deactivated and can no longer sign in.") % {"user": user})
    return redirect("plans:manage_users")


@manager_required
@require_safe
def team_list(request):
    teams = Team.objects.order_by("name").annotate(member_count=Count("members"))
    return render(request, "plans/manage/team_list.html", {"teams": teams})


@manager_required
@require_http_methods(["GET", "POST"])
def team_detail(request, pk):
    """The team's members, each with a button to remove them, and a form to add one."""
    team = get_object_or_404(Team, pk=pk)
    form = MemberAddForm(team=team)
    if request.method == "POST":
        members = list(team.members.all())
        raw = request.POST.get("version", "")
        version = int(raw) if raw.isdigit() else None
        if "remove" in request.POST:
            members = [user for user in members if str(user.pk) != request.POST["remove"]]
        else:
            form = MemberAddForm(request.POST, team=team)
            if not form.is_valid():
                return _team_page(request, team, form, status=400)
            members.append(form.cleaned_data["user"])
        try:
            services.team_update(team=team, data={}, members=members, expected_version=version, author=request.user)
        except services.StaleVersionError as exc:
            messages.error(request, _stale_message(exc))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("The team's members are saved."))
        return redirect("plans:manage_team", team.pk)
    return _team_page(request, team, form)


def _team_page(request, team, form, status=200):
    members = team.members.order_by("username")
    context = {"team": team, "members": members, "form": form}
    return render(request, "plans/manage/team_detail.html", context, status=status)
