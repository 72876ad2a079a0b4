from django.contrib import admin

from relayweb import webhooks
from relayweb.models import ApiKey, Membership, Team, Webhook, WebhookDelivery, Worker


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "team", "role", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["role", "team", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "team__name"]
    # The hash is useless to a person and the raw key is never stored: keys are made in the app.
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at", "created_by"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            key.revoke()


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "team", "active", "created_at"]
    list_filter = ["active", "team"]
    search_fields = ["url", "team__name"]
    # Webhooks are made in the app (Settings › Webhooks), which shows the secret once and checks
    # the URL; the admin may pause or remove them, never read or change the secret.
    exclude = ["secret"]
    readonly_fields = ["team", "url", "events", "created_at", "created_by"]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "webhook", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event"]
    search_fields = ["event_id", "webhook__url"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Send the selected deliveries again")
    def redeliver(self, request, queryset):
        for delivery in queryset:
            webhooks.redeliver(delivery)


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    """Read-only: each row is written by a running cluster's heartbeat (relayweb/workers.py)."""

    list_display = ["name", "queue", "host", "started_at", "last_seen_at"]
    list_filter = ["queue", "host"]
    readonly_fields = [f.name for f in Worker._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
