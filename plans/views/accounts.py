"""The sign-in page: a LoginView whose form refuses while plans.signin_throttle has locked the username."""

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ..permissions import is_manager
from ..signin_throttle import LOCKOUT_SECONDS, client_ip, sign_in_failed, sign_in_locked, sign_in_reset


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": _(
            "Too many failed sign-in attempts for this username. Please wait %(minutes)s minutes and try again."
        ),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request)
        if username and sign_in_locked(username, ip):
            raise ValidationError(
                self.error_messages["throttled"], code="throttled", params={"minutes": LOCKOUT_SECONDS // 60}
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            if username:
                sign_in_failed(username, ip)
            raise
        sign_in_reset(username, ip)
        return cleaned


class SignInView(LoginView):
    """Django's LoginView with the throttled form; staff with teams land on "My work"."""

    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        user = self.request.user
        if not is_manager(user) and user.teams.exists():
            return reverse("plans:my_work")
        return super().get_default_redirect_url()
