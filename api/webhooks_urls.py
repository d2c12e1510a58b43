from django.urls import path

from api import pages

app_name = "webhooks"
urlpatterns = [
    path("", pages.webhook_endpoints, name="endpoints"),
    path("<int:endpoint_id>/rotate/", pages.rotate_webhook_secret, name="rotate"),
    path("<int:endpoint_id>/enabled/", pages.set_webhook_enabled, name="enabled"),
    path("<int:endpoint_id>/delete/", pages.delete_webhook, name="delete"),
]
