"""Web pages for staff and managers. Views parse input and call selectors and services."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from . import selectors
from .views_dashboard import STATUSES_STALE_AFTER


@login_required
def home(request):
    stale_before = timezone.now() - STATUSES_STALE_AFTER
    return render(request, "plans/home.html", {"plans": selectors.plan_overview_list(), "stale_before": stale_before})
