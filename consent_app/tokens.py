"""Signed links for one user: one-click unsubscribe (RFC 8058) and the hosted preference page.

A token is `django.core.signing.dumps` of {user, category, channel} under its own salt, so it cannot be
forged or edited (another user id breaks the signature) without SECRET_KEY, and it carries the time it
was signed: it is honoured for NOTIFICATION_UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS. The category and channel say
what one click turns off; a token for the page alone names neither.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "consent_app.unsubscribe"
ONE_CLICK = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


@dataclass(frozen=True)
class LinkToken:
    user_id: int
    category: str = ""  # a category key, or "" for a link to the page alone
    channel: str = ""


class BadToken(Exception):
    """The link was not signed by us, was edited, or is too old; the message says which."""


def token_make(*, user_id: int, category: str = "", channel: str = "") -> str:
    data = {"u": user_id}
    if category:
        data.update(c=category, ch=channel)
    return signing.dumps(data, salt=SALT, compress=True)


def token_read(token: str) -> LinkToken:
    """The user, category and channel a token names. Raises BadToken."""
    max_age = settings.NOTIFICATION_UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS * 86400
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise BadToken("This link has expired.") from None
    except signing.BadSignature:
        raise BadToken("This link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise BadToken("This link is not valid.")
    return LinkToken(user_id=data["u"], category=str(data.get("c", "")), channel=str(data.get("ch", "")))


def link_url(token: str) -> str:
    """The absolute URL of a link: NOTIFICATION_PUBLIC_BASE_URL and /u/TOKEN."""
    return settings.NOTIFICATION_PUBLIC_BASE_URL.rstrip("/") + reverse("consent-link", args=[token])


def preferences_url(*, user_id: int) -> str:
    """The user's hosted preference page (templates' `{{ preferences_url }}`)."""
    return link_url(token_make(user_id=user_id))


def unsubscribe_headers(*, user_id: int, category: str, channel: str = "email") -> Mapping[str, str]:
    """`List-Unsubscribe` (our URL, and a mailto: when NOTIFICATION_UNSUBSCRIBE_MAILTO is set) and
    `List-Unsubscribe-Post` for an email of `category` to the user."""
    token = token_make(user_id=user_id, category=category, channel=channel)
    targets = [f"<{link_url(token)}>"]
    if settings.NOTIFICATION_UNSUBSCRIBE_MAILTO:
        targets.append(f"<mailto:{settings.NOTIFICATION_UNSUBSCRIBE_MAILTO}?subject={quote('unsubscribe ' + token)}>")
    return {"List-Unsubscribe": ", ".join(targets), **ONE_CLICK}
