"""The API lists' filter backend: the web filtersets, except that an empty filter value is an error.

A web form submits every field, so the dashboards read ``?status=`` as "any"; an API client that sends
``?plan=`` has lost a value on the way, and answering with every plan would hide that (400 instead).
Boolean filters read only true and false (``filtersets.StrictBooleanFilter``).
"""

from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError


class StrictFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            errors = {}
            for name in filterset.filters:
                if "" in request.query_params.getlist(name):
                    errors[name] = [_("This value may not be blank.")]
            if errors:
                raise ValidationError(errors)
        return filterset
