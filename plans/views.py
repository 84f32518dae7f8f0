"""Web pages for staff and managers. Views parse input and call selectors and services."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import selectors


@login_required
def home(request):
    return render(request, "plans/home.html", {"plans": selectors.plan_overview_list()})
