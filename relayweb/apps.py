from django.apps import AppConfig


class RelaywebConfig(AppConfig):
    name = "relayweb"
    verbose_name = "Teams and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from relayweb import (
            schema,  # noqa: F401  (registers the OpenAPI auth extensions)
            webhooks,  # noqa: F401  (registers its retry sweeper with relayweb.jobs)
            workers,  # noqa: F401  (registers its sweeper of long-silent workers)
        )

        # After every migrate (and test-database flush): the reaper's schedule exists, once.
        post_migrate.connect(reaper_schedule, sender=self)


def reaper_schedule(**kwargs) -> None:
    from relayweb.jobs import ensure_schedule

    ensure_schedule()
