from django.urls import path

from portal import views

app_name = "portal"
urlpatterns = [
    path("i/<str:token>/", views.landing, name="landing"),
    path("link/", views.link_problem, name="link-problem"),
    path("accept/", views.accept, name="accept"),
    path("accept/account/", views.account, name="account"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("practices/<int:connection_id>/disconnect/", views.disconnect, name="disconnect"),
    path("", views.home, name="home"),
]
