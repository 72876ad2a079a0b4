from django.apps import AppConfig


class RelaywebConfig(AppConfig):
    name = "relayweb"
    verbose_name = "Teams and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from relayweb import schema  # noqa: F401  (registers the OpenAPI auth extensions)
