"""ZEGO tokens from a Django app: sign in at /accounts/login/, then ZEGO's guide request
GET /api/zego/token?userID=<you>&expired_ts=86400 answers {"token", "expire"}."""

import os

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from zego_token import TokenIssuer
from zego_token.integrations import Grants, Identity
from zego_token.integrations.django import token_urlpatterns

issuer = TokenIssuer(int(os.environ["ZEGO_APP_ID"]), os.environ["ZEGO_SERVER_SECRET"])


def who_is_asking(request: HttpRequest) -> Identity | None:
    if not request.user.is_authenticated:
        return None
    # Tokens for the signed-in user only, for any room (ZEGO's guide asks without one); a
    # token for a room may publish only for staff.
    return Identity(user_id=request.user.username, grants=Grants(publish=request.user.is_staff))


def home(request: HttpRequest) -> JsonResponse:
    user = request.user.username if request.user.is_authenticated else None
    return JsonResponse({"signed_in": user})


urlpatterns = [
    path("", home),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("api/zego/", include(token_urlpatterns(issuer, authorize=who_is_asking))),
]
