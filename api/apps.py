from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from api import webhooks  # noqa: F401  (connects the access.signals.events_recorded receiver)
