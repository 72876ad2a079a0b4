"""Pages for Settings › Webhooks: subscribe (the secret shown once), the delivery log, redeliver.
Everything is written through relayweb.webhooks, as the API does."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from relayweb import webhooks as service
from relayweb.models import Role, Webhook, WebhookDelivery, WebhookEvent
from relayweb.views import flash_api_error, team_object, team_required


@team_required(Role.ADMIN)
def webhooks_page(request):
    team = request.membership.team
    created = None
    if request.method == "POST":
        url = request.POST.get("url", "").strip()
        events = request.POST.getlist("events")
        try:
            hook, secret = service.subscribe(
                team, url, events, request.POST.get("description", "").strip()[:200], request.user
            )
            created = {"hook": hook, "secret": secret}
        except APIException as exc:
            flash_api_error(request, exc, "Not saved: ")
    context = {
        "hooks": Webhook.objects.filter(team=team),
        "events": WebhookEvent.values,
        "created": created,
    }
    return render(request, "relayweb/webhooks.html", context)


@team_required(Role.ADMIN)
def webhook(request, webhook_id):
    hook = team_object(Webhook, request, webhook_id)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "delete":
            hook.delete()
            messages.success(request, f"Webhook {hook.url} removed.")
            return redirect("webhooks")
        if action in ("pause", "resume"):
            service.update(hook, {"active": action == "resume"})
    deliveries = hook.deliveries.all()[:100]
    return render(request, "relayweb/webhook.html", {"hook": hook, "deliveries": deliveries})


@require_POST
@team_required(Role.ADMIN)
def redeliver(request, webhook_id, delivery_id):
    hook = team_object(Webhook, request, webhook_id)
    delivery = WebhookDelivery.objects.filter(webhook=hook, pk=delivery_id).first()
    if delivery is not None:
        service.redeliver(delivery)
        messages.success(request, f"{delivery.event} queued to be sent again.")
    return redirect("webhook", webhook_id=hook.pk)
