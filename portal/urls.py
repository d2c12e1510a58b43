from django.urls import path

from portal import account_views, caregiver_views, code_views, language, proxy_views, request_views, views

app_name = "portal"
urlpatterns = [
    path("i/<str:token>/", views.landing, name="landing"),
    # Proxy access (issue 21), the proxy's and the patient's side: before proxy/<token>/, which would match them.
    path("proxy/accept/", proxy_views.accept, name="proxy-accept"),
    path("proxy/accept/account/", proxy_views.account, name="proxy-account"),
    path("proxy/accept/sign-out/", proxy_views.sign_out_and_continue, name="proxy-sign-out-and-continue"),
    path("proxy/<str:token>/", proxy_views.landing, name="proxy-landing"),
    path("people/choose/", proxy_views.choose_person, name="choose-person"),
    path("my-account/caregivers/", caregiver_views.invite, name="invite-caregiver"),
    path("my-account/caregivers/code/", caregiver_views.new_code, name="caregiver-code"),
    path("my-account/caregivers/revoke/", caregiver_views.revoke, name="revoke-proxy"),
    path("link/", views.link_problem, name="link-problem"),
    path("link/renew/", views.renew, name="renew"),
    path("link/renewed/", views.renewed, name="renewed"),
    path("accept/", views.accept, name="accept"),
    path("accept/account/", views.account, name="account"),
    path("accept/email/", code_views.confirm_email, name="confirm-email"),
    path("accept/sign-out/", views.sign_out_and_continue, name="sign-out-and-continue"),
    path("connected/", views.connected, name="connected"),
    path("login/", views.login_view, name="login"),
    path("request/<int:practice_id>/", request_views.request_access, name="request-access"),
    path("request/<int:practice_id>/sent/", request_views.request_access_sent, name="request-access-sent"),
    path("logout/", views.logout_view, name="logout"),
    path("password/reset/", account_views.password_reset, name="password-reset"),
    path("password/reset/sent/", account_views.password_reset_done, name="password-reset-done"),
    path("password/reset/done/", account_views.password_reset_complete, name="password-reset-complete"),
    path("password/reset/<uidb64>/<token>/", account_views.password_reset_confirm, name="password-reset-confirm"),
    path("my-account/", account_views.my_account, name="my-account"),
    path("my-account/password/", account_views.change_password, name="change-password"),
    path("my-account/sign-out-everywhere/", account_views.sign_out_everywhere, name="sign-out-everywhere"),
    path("practices/<int:connection_id>/disconnect/", views.disconnect, name="disconnect"),
    path("language/", language.switch, name="language"),
    path("", views.home, name="home"),
]
