from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Portal access"

    def ready(self) -> None:
        from access import receivers  # noqa: F401  (connects mail delivery signals)
