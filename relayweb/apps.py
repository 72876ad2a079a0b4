from django.apps import AppConfig


class RelaywebConfig(AppConfig):
    name = "relayweb"
    verbose_name = "Teams and access"
    default_auto_field = "django.db.models.BigAutoField"
