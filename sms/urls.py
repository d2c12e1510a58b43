from django.urls import path

from sms import callbacks

app_name = "sms"
urlpatterns = [
    path("status/", callbacks.status, name="status"),
    path("inbound/", callbacks.inbound, name="inbound"),
]
