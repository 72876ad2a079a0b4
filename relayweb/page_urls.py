from django.contrib.auth import views as auth_views
from django.urls import path

from relayweb import views, webhook_views
from relayweb.login import ThrottledLoginView

urlpatterns = [
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("teams/switch/", views.switch_team, name="switch-team"),
    path("settings/api-keys/", views.api_keys, name="api-keys"),
    path("settings/api-keys/<uuid:key_id>/revoke/", views.revoke_api_key, name="revoke-api-key"),
    path("settings/webhooks/", webhook_views.webhooks_page, name="webhooks"),
    path("settings/webhooks/<uuid:webhook_id>/", webhook_views.webhook, name="webhook"),
    path(
        "settings/webhooks/<uuid:webhook_id>/deliveries/<uuid:delivery_id>/redeliver/",
        webhook_views.redeliver,
        name="webhook-redeliver",
    ),
]
