from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from access.signins import ThrottledAuthenticationForm
from api.api import api
from ops.views import health, health_workers
from portal.code_views import activate

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("health/workers/", health_workers, name="health-workers"),
    path("api/v1/", api.urls),
    path("settings/api-tokens/", include("api.page_urls")),
    path("settings/webhooks/", include("api.webhooks_urls")),
    path("portal/", include("portal.urls")),
    # A printed invitation's short address, typed from the letter (portal.code_views).
    path("activate/", activate, name="activate"),
    path("sms/", include("sms.urls")),
    path("", include("clinic.urls")),
]
