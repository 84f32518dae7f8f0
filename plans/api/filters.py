"""The API lists' filter backend: the web filtersets, except that an empty filter value is an error.

A web form submits every field, so the dashboards read ``?status=`` as "any"; an API client that sends
``?plan=`` has lost a value on the way, and answering with every plan would hide that (400 instead).
Likewise a boolean filter that is neither true nor false.
"""

import django_filters
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

# What django-filter's boolean field reads; it takes anything else as "no filter".
BOOLEANS = {"True", "true", "1", "False", "false", "0"}


class StrictFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            errors = {}
            for name, item in filterset.filters.items():
                values = request.query_params.getlist(name)
                if "" in values:
                    errors[name] = [_("This value may not be blank.")]
                elif isinstance(item, django_filters.BooleanFilter) and any(v not in BOOLEANS for v in values):
                    errors[name] = [_("Send true or false.")]
            if errors:
                raise ValidationError(errors)
        return filterset
