"""The caller's own notifications: list (``?unread=true`` for the unread ones), read one, mark one or all read.

An API token has no notifications of its own (they go to people), so it lists none.
"""

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from plans import services
from plans.filtersets import StrictBooleanFilter
from plans.models import Notification
from plans.models.base import MAX_ID

from .views import BodyLimitMixin


class NotificationSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ("id", "title", "body", "url", "created_at", "read_at", "read")
        read_only_fields = fields

    def get_read(self, notification) -> bool:
        return notification.read_at is not None


class MarkedReadSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField(help_text=_("How many notifications were unread and are now read."))


class NotificationFilterSet(django_filters.FilterSet):
    unread = StrictBooleanFilter(field_name="read_at", lookup_expr="isnull", label=_("Only the unread ones (true)"))

    class Meta:
        model = Notification
        fields = ["unread"]


@extend_schema_view(
    list=extend_schema(summary=_("Your notifications, oldest first (keyset pages over created_at)")),
    retrieve=extend_schema(summary=_("One of your notifications")),
)
class NotificationViewSet(BodyLimitMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet
    permission_classes = [IsAuthenticated]
    sync_field = "created_at"  # the keyset pagination's field (plans.api.pagination)
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return Notification.objects.filter(recipient_id=self.request.user.pk)

    def get_object(self):
        value = str(self.kwargs.get("pk", ""))
        if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= MAX_ID:
            raise NotFound()
        return super().get_object()

    @extend_schema(
        request=None, responses={200: MarkedReadSerializer, 404: OpenApiResponse(description=_("Not found."))}
    )
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark one of your notifications read (already read: nothing changes)."""
        notification = self.get_object()
        marked = services.notification_mark_read(user=request.user, notification_id=notification.pk)
        return Response({"marked_read": int(marked)}, status=status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: MarkedReadSerializer})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        """Mark all your notifications read."""
        return Response({"marked_read": services.notifications_mark_all_read(user=request.user)})
