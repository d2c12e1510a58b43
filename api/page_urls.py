from django.urls import path

from api import pages

app_name = "api-settings"
urlpatterns = [
    path("", pages.api_tokens, name="tokens"),
    path("<int:token_id>/revoke/", pages.revoke_api_token, name="revoke-token"),
]
