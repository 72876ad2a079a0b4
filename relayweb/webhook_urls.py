"""API routes for a team's webhooks (no trailing slash; one is tolerated)."""

from relayweb import webhooks_api as api
from relayweb.routes import UUID, route

W = rf"webhooks/(?P<webhook_id>{UUID})"
routes = [
    route("webhooks", api.WebhookListView, "webhook-list"),
    route(W, api.WebhookDetailView, "webhook-detail"),
    route(rf"{W}/deliveries", api.DeliveryListView, "webhook-deliveries"),
    route(rf"{W}/deliveries/(?P<delivery_id>{UUID})/redeliver", api.RedeliverView, "webhook-redeliver"),
]
urlpatterns = [pattern for pair in routes for pattern in pair]
