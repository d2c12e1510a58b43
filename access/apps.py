from django.apps import AppConfig, apps


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Portal access"

    def ready(self) -> None:
        from access import receivers  # noqa: F401  (connects mail delivery signals)

        throttle_admin_sign_in()


def throttle_admin_sign_in() -> None:
    """The admin's sign-in (portico/admin.py) counts against the same limits as every other sign-in: its
    form, with access.signins' throttle mixed in first. Done here because portico imports no app."""
    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib import admin
    from django.contrib.admin.forms import AdminAuthenticationForm

    from access.signins import ThrottledAuthenticationForm

    form = admin.site.login_form or AdminAuthenticationForm
    if not issubclass(form, ThrottledAuthenticationForm):
        admin.site.login_form = type(f"Throttled{form.__name__}", (ThrottledAuthenticationForm, form),
                                     {"__module__": __name__, "__doc__": form.__doc__})
