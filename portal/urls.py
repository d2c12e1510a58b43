from django.urls import path

from portal import views

app_name = "portal"
urlpatterns = [
    path("i/<str:token>/", views.landing, name="landing"),
    path("login/", views.login, name="login"),
    path("", views.home, name="home"),
]
