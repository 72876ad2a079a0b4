"""API for a team's webhooks (ours; docs/webhooks.md): subscriptions, their delivery log, redelivery.

Managing webhooks needs the admin role: a webhook sends the team's results to another service."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from datasets.api import validated
from relayweb import webhooks
from relayweb.auth import caller_of
from relayweb.models import Role, Webhook, WebhookDelivery, WebhookEvent
from relayweb.schema import paginated


class WebhookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "description", "active", "created_at"]
        read_only_fields = ["id", "created_at"]


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="shown once: sign-checks every delivery (docs/webhooks.md)")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookWriteSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.values), min_length=1)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    active = serializers.BooleanField(required=False, default=True)


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "webhook_id", "event", "event_id", "status", "attempts", "last_status_code", "last_error",
            "next_attempt_at", "created_at", "delivered_at", "log", "payload",
        ]  # fmt: skip


def get_webhook(request, webhook_id) -> Webhook:
    hook = Webhook.objects.filter(pk=webhook_id, team=caller_of(request).team).first()
    if hook is None:
        raise Http404("Webhook not found")
    return hook


class WebhookListView(GenericAPIView):
    serializer_class = WebhookSerializer
    required_roles = {"get": Role.ADMIN, "post": Role.ADMIN}

    @paginated(WebhookSerializer)
    def get(self, request):
        page = self.paginate_queryset(Webhook.objects.filter(team=caller_of(request).team))
        return self.get_paginated_response(WebhookSerializer(page, many=True).data)

    @extend_schema(request=WebhookWriteSerializer, responses={201: WebhookCreatedSerializer})
    def post(self, request):
        """Subscribe a URL; the answer carries the signing `secret`, which is never shown again."""
        data = validated(WebhookWriteSerializer, request.data)
        caller = caller_of(request)
        hook, secret = webhooks.subscribe(
            caller.team, data["url"], data["events"], data["description"], caller.user
        )
        if not data["active"]:
            webhooks.update(hook, {"active": False})
        body = {**WebhookSerializer(hook).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookDetailView(GenericAPIView):
    serializer_class = WebhookSerializer
    required_roles = {"get": Role.ADMIN, "patch": Role.ADMIN, "delete": Role.ADMIN}

    def get(self, request, webhook_id):
        return Response(WebhookSerializer(get_webhook(request, webhook_id)).data)

    @extend_schema(request=WebhookWriteSerializer(partial=True))
    def patch(self, request, webhook_id):
        hook = get_webhook(request, webhook_id)
        serializer = WebhookWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(WebhookSerializer(webhooks.update(hook, dict(serializer.validated_data))).data)

    def delete(self, request, webhook_id):
        get_webhook(request, webhook_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListView(GenericAPIView):
    serializer_class = DeliverySerializer
    required_roles = {"get": Role.ADMIN}

    @paginated(DeliverySerializer)
    def get(self, request, webhook_id):
        """The delivery log, newest first: each event, its attempts, status codes and errors."""
        page = self.paginate_queryset(get_webhook(request, webhook_id).deliveries.all())
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class RedeliverView(GenericAPIView):
    serializer_class = DeliverySerializer
    required_roles = {"post": Role.ADMIN}

    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request, webhook_id, delivery_id):
        """Send this event again now (a fresh retry window), whatever became of it."""
        delivery = get_webhook(request, webhook_id).deliveries.filter(pk=delivery_id).first()
        if delivery is None:
            raise Http404("Delivery not found")
        return Response(
            DeliverySerializer(webhooks.redeliver(delivery)).data, status=status.HTTP_202_ACCEPTED
        )
