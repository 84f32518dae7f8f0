"""The language switcher's target: Django's ``set_language``, limited to the site's languages, and
remembered for a signed-in person (plans.language)."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import LANGUAGE_QUERY_PARAMETER
from django.views.i18n import set_language as django_set_language

from .. import language


@login_not_required
@require_POST
def set_language(request):
    code = language.supported(request.POST.get(LANGUAGE_QUERY_PARAMETER))
    if code is None:
        return HttpResponseBadRequest(_("Choose one of the languages the site offers."))
    response = django_set_language(request)
    if request.user.is_authenticated:
        language.remember(request, code)
    return response
