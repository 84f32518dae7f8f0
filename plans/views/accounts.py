"""The sign-in page, and the throttled forms behind it and behind the admin's login (plans.signin_throttle).

Both forms share one throttle, so a lock earned on one form holds on the other, and both make the browser
a known device on success. ``tracker/urls.py`` installs the admin form as ``admin.site.login_form`` and
routes ``/admin/login/`` through ``admin_login``, which sets the device cookie on the admin's response.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import ngettext_lazy

from ..permissions import is_manager
from ..signin_throttle import (
    ADDRESS,
    PAIR,
    USERNAME,
    client_ip,
    known_device,
    remember_device,
    sign_in_failed,
    sign_in_refusal,
    sign_in_succeeded,
)

TOO_MANY_FOR_USERNAME = ngettext_lazy(
    "Too many failed sign-in attempts for this username. Please try again in %(minutes)s minute.",
    "Too many failed sign-in attempts for this username. Please try again in %(minutes)s minutes.",
    "minutes",
)
TOO_MANY_FROM_ADDRESS = ngettext_lazy(
    "Too many failed sign-in attempts from your network address. Please try again in %(minutes)s minute.",
    "Too many failed sign-in attempts from your network address. Please try again in %(minutes)s minutes.",
    "minutes",
)
THROTTLE_ERRORS = {
    "throttled": TOO_MANY_FOR_USERNAME,
    "throttled_address": TOO_MANY_FROM_ADDRESS,
    "throttled_username": TOO_MANY_FOR_USERNAME,
}
CODES = {PAIR: "throttled", ADDRESS: "throttled_address", USERNAME: "throttled_username"}


class SignInThrottleMixin:
    """Refuses, before the password is checked, while the throttle holds; counts failed authentications.

    A correct password refused by ``confirm_login_allowed`` (an admin sign-in by non-staff) is not a failure.
    """

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request)
        device = known_device(self.request, username)
        if username:
            refusal = sign_in_refusal(username, ip, device)
            if refusal is not None:
                code = CODES[refusal.reason]
                raise ValidationError(self.error_messages[code], code=code, params={"minutes": refusal.minutes})
        try:
            return super().clean()
        except ValidationError:
            if username and self.user_cache is None:
                sign_in_failed(username, ip, device)
            raise
        finally:
            # Only a checked password counts as success: a post without one must not clear the count.
            if username and self.user_cache is not None:
                sign_in_succeeded(username, ip, device)
                if self.request is not None:
                    self.request.signed_in_device = (username, device)


def _remember_device(request, response):
    if request.user.is_authenticated and getattr(request, "signed_in_device", None):
        remember_device(response, *request.signed_in_device)
    return response


class ThrottledAuthenticationForm(SignInThrottleMixin, AuthenticationForm):
    error_messages = {**AuthenticationForm.error_messages, **THROTTLE_ERRORS}


class ThrottledAdminAuthenticationForm(SignInThrottleMixin, AdminAuthenticationForm):
    error_messages = {**AdminAuthenticationForm.error_messages, **THROTTLE_ERRORS}


class SignInView(LoginView):
    """Django's LoginView with the throttled form; staff with teams land on "My work"."""

    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        user = self.request.user
        if not is_manager(user) and user.teams.exists():
            return reverse("plans:my_work")
        return super().get_default_redirect_url()

    def form_valid(self, form):
        return _remember_device(self.request, super().form_valid(form))


@login_not_required
def admin_login(request, extra_context=None):
    """The admin's own login view (with the throttled form, see tracker/urls.py), plus the device cookie."""
    return _remember_device(request, admin.site.login(request, extra_context))
