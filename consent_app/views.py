"""The links in a user's emails, at /u/TOKEN: one-click unsubscribe (RFC 8058) for a POST of
`List-Unsubscribe=One-Click`, answered 200 with no login, cookie, CSRF token or redirect."""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from kinds_app.models import Category
from preferences_app.categories import settings_update

from .models import ConsentSource
from .tokens import BadToken, LinkToken, token_read

ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"


def _text(status: int, text: str, **headers: str) -> HttpResponse:
    response = HttpResponse(f"{text}\n", status=status, content_type="text/plain; charset=utf-8", headers=headers)
    response["Cache-Control"] = "no-store"  # a personal link: no cache or proxy keeps its answer
    return response


def one_click_unsubscribe(*, link: LinkToken) -> str:
    """Turn the link's category off on its channel for its user; returns what was done, for the answer.
    Raises ValidationError when the link names no category (a page link) or one that is gone."""
    if not link.category or not link.channel:
        raise ValidationError("This link manages preferences; it does not unsubscribe from anything by itself.")
    category = Category.objects.filter(key=link.category).first()
    if category is None:
        raise ValidationError("What this link unsubscribes from no longer exists.")
    settings_update(user_id=link.user_id, categories={category.key: {link.channel: False}},
                    source=ConsentSource.ONE_CLICK)
    return f"You will no longer receive {category.name} notifications by {link.channel}."


@csrf_exempt  # RFC 8058: a mail client posts with no cookie; the signed token is the authority
def consent_link(request: HttpRequest, token: str) -> HttpResponse:
    """/u/TOKEN: a POST of List-Unsubscribe=One-Click unsubscribes at once; a forged, edited or expired token
    is a 404 that changes nothing."""
    try:
        link = token_read(token)
    except BadToken as err:
        return _text(404, str(err))
    if request.method != "POST":
        return _text(405, "Post List-Unsubscribe=One-Click to this address to unsubscribe.", Allow="POST")
    if request.POST.get(ONE_CLICK_FIELD) != ONE_CLICK_VALUE:
        return _text(400, f"Post {ONE_CLICK_FIELD}={ONE_CLICK_VALUE} to unsubscribe.")
    try:
        done = one_click_unsubscribe(link=link)
    except ValidationError as err:
        return _text(404, " ".join(err.messages))
    return _text(200, done)
