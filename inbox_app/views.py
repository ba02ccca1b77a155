"""The inbox's demo page: the web component for a demo user, served only with DEBUG."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from preferences_app.services import validate_user_id

from .tokens import feed_token_mint

DEMO_USER_ID = 1001


def inbox_demo(request: HttpRequest) -> HttpResponse:
    """/inbox/demo/?user_id=1001: the bell for one user, with a token minted for the page."""
    if not settings.DEBUG:
        raise Http404("The inbox demo is served only with DEBUG.")
    try:
        user_id = validate_user_id(int(request.GET.get("user_id", DEMO_USER_ID)))
    except (ValueError, ValidationError):
        raise Http404("No such demo user.") from None
    token, expires_at = feed_token_mint(user_id=user_id)
    return render(request, "inbox_app/demo.html", {"token": token, "user_id": user_id, "expires_at": expires_at})
