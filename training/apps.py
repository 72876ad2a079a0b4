from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from training import services  # noqa: F401  (registers its kinds of work with relayweb.jobs)

        # After every migrate (and test-database flush): the built-in models are registered.
        post_migrate.connect(install_builtin_models, sender=self)


def install_builtin_models(**kwargs) -> None:
    from training.builtin import install

    install()
