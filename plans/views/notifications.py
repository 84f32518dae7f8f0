"""The signed-in user's notifications (reminders, escalations ...), newest first, with mark-as-read."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from .. import services
from ..models import Notification

PAGE_SIZE = 50


@login_required
@require_safe
def notification_list(request):
    notifications = Notification.objects.filter(recipient_id=request.user.pk).order_by("-created_at", "-id")
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "plans/notifications/list.html", {"page": page, "title": _("Notifications")})


@login_required
@require_POST
def notification_read(request, pk: int):
    if not Notification.objects.filter(pk=pk, recipient_id=request.user.pk).exists():
        raise Http404  # another user's notification, or none: the same answer
    services.notification_mark_read(user=request.user, notification_id=pk)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("plans:notifications")


@login_required
@require_POST
def notification_read_all(request):
    count = services.notifications_mark_all_read(user=request.user)
    text = ngettext("%(count)d notification marked read.", "%(count)d notifications marked read.", count)
    messages.success(request, text % {"count": count})
    return redirect("plans:notifications")
