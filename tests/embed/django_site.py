"""The Django embedding site, settings and URLs in one module:
``DJANGO_SETTINGS_MODULE=tests.embed.django_site django-admin runserver``."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from tests.embed.sites import MOUNT, identity_of, issuer
from zego_token.integrations import Identity
from zego_token.integrations.django import token_urlpatterns

DEBUG = False
SECRET_KEY = "tests-only-not-a-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = __name__
INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
DATABASES: dict[str, object] = {}
USE_TZ = True


def who_is_asking(request: HttpRequest) -> Identity | None:
    return identity_of(request.COOKIES.get("session"))


def home(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"app": "django"})


urlpatterns = [
    path("", home),
    path(MOUNT.strip("/") + "/", include(token_urlpatterns(issuer, authorize=who_is_asking))),
]
