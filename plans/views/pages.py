"""Pages of plain information that anyone may read, signed in or not."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render


@login_not_required
def accessibility(request):
    """The accessibility statement: what the pages conform to, how they were tested, known limitations."""
    return render(request, "pages/accessibility.html", {"contact": settings.TRACKER_ACCESSIBILITY_CONTACT})
