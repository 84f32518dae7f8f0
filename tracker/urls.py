from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from plans.views.accounts import SignInView, ThrottledAdminAuthenticationForm, admin_login
from plans.views.language import set_language
from plans.views.pages import accessibility

from . import health

# The admin's login shares the sign-in throttle (otherwise it is an unthrottled way to guess passwords),
# and its own route, ahead of admin.site.urls, adds the known-device cookie to the admin's login view.
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path("api/v1/", include("plans.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("accessibility/", accessibility, name="accessibility"),
    path("", include("plans.urls")),
]
