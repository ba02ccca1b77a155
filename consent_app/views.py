"""The links in a user's emails, at /u/TOKEN: one-click unsubscribe (RFC 8058) for a POST of
`List-Unsubscribe=One-Click`, answered 200 with no login, cookie, CSRF token or redirect; the hosted
preference page for a GET, saved by a CSRF-protected POST of its form."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from .page import CHANNELS, TIMEZONES, PageState, one_click_unsubscribe, page_save, page_state
from .tokens import BadToken, LinkToken, token_read

ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"
# The page's form says what it is, so a stray POST (neither the form nor a one-click) saves nothing.
PAGE_FIELD, PAGE_VALUE = "form", "preferences"


def _text(status: int, text: str, **headers: str) -> HttpResponse:
    response = HttpResponse(f"{text}\n", status=status, content_type="text/plain; charset=utf-8", headers=headers)
    response["Cache-Control"] = "no-store"  # a personal link: no cache or proxy keeps its answer
    return response


def _page(request: HttpRequest, state: PageState | None, *, status: int = 200, changes: list[str] | None = None,
          problem: str = "") -> HttpResponse:
    context = {"state": state, "page_field": PAGE_FIELD, "page_value": PAGE_VALUE, "channels": CHANNELS, "timezones": TIMEZONES, "changes": changes, "problem": problem,
               "saved": changes is not None, "brand": {"name": settings.NOTIFICATION_BRAND_NAME,
                                                        "logo_url": settings.NOTIFICATION_BRAND_LOGO_URL,
                                                        "color": settings.NOTIFICATION_BRAND_COLOR}}
    response = render(request, "consent_app/preferences.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@csrf_protect
def _page_save(request: HttpRequest, link: LinkToken) -> HttpResponse:
    try:
        state, changes = page_save(user_id=link.user_id, form=request.POST)
    except ValidationError as err:
        state = page_state(user_id=link.user_id)
        state = PageState(**{**state.__dict__, "errors": err.message_dict})
        return _page(request, state, status=400)
    return _page(request, state, changes=changes)


@csrf_exempt  # RFC 8058: a mail client posts with no cookie; the page's own form is checked in _page_save
def consent_link(request: HttpRequest, token: str) -> HttpResponse:
    """/u/TOKEN: the preference page (GET), its save (POST of the form), or one-click unsubscribe (a POST of
    List-Unsubscribe=One-Click). A forged, edited or expired token is a 404 that changes nothing."""
    try:
        link = token_read(token)
    except BadToken as err:
        if request.method == "POST" and request.POST.get(ONE_CLICK_FIELD):
            return _text(404, str(err))
        return _page(request, None, status=404, problem=str(err))
    if request.method in ("GET", "HEAD"):
        return _page(request, page_state(user_id=link.user_id))
    if request.method != "POST":
        return _text(405, "GET shows the preferences; POST saves them or unsubscribes.", Allow="GET, HEAD, POST")
    if request.POST.get(PAGE_FIELD) == PAGE_VALUE and ONE_CLICK_FIELD not in request.POST:
        return _page_save(request, link)
    if request.POST.get(ONE_CLICK_FIELD) != ONE_CLICK_VALUE:
        return _text(400, f"Post {ONE_CLICK_FIELD}={ONE_CLICK_VALUE} to unsubscribe.")
    try:
        done = one_click_unsubscribe(link=link)
    except ValidationError as err:
        return _text(404, " ".join(err.messages))
    return _text(200, done)
