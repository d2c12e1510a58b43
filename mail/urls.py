from django.urls import path

from mail import views

app_name = "mail"
urlpatterns = [
    path("", views.mailbox_list, name="mailbox"),
    path("<str:key>/", views.mailbox_message, name="message"),
]
