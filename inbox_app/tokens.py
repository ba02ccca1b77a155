"""Who is reading a feed: a short-lived token the calling service mints for one user (signed with the
service's SECRET_KEY), or the user id signed by the calling service itself with a shared secret (an
HMAC-SHA256 "user hash", INBOX_USER_HASH_SECRET)."""

import datetime as dt
import hashlib
import hmac

from django.conf import settings
from django.core import signing
from django.utils import timezone

_SALT = "inbox_app.feed-token"


class FeedTokenRefused(Exception):
    """The credentials name no user: malformed, forged, expired, or a way that is turned off."""


def feed_token_mint(*, user_id: int) -> tuple[str, dt.datetime]:
    """A token that reads and marks `user_id`'s feed until it expires (INBOX_FEED_TOKEN_TTL_SECONDS)."""
    expires_at = timezone.now() + dt.timedelta(seconds=settings.INBOX_FEED_TOKEN_TTL_SECONDS)
    token = signing.dumps({"u": user_id, "e": int(expires_at.timestamp())}, salt=_SALT)
    return token, expires_at.replace(microsecond=0)


def feed_token_user(token: str) -> int:
    """The user a token was minted for. Raises FeedTokenRefused."""
    try:
        claims = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        raise FeedTokenRefused("The feed token is not one this service minted.") from None
    if not isinstance(claims, dict) or not isinstance(claims.get("u"), int) or not isinstance(claims.get("e"), int):
        raise FeedTokenRefused("The feed token is not one this service minted.")
    if claims["e"] < timezone.now().timestamp():
        raise FeedTokenRefused("The feed token has expired; ask the application for a new one.")
    return claims["u"]


def user_hash(user_id: int, secret: str) -> str:
    """What the calling service signs a user id as: hex HMAC-SHA256 of the id's decimal digits."""
    return hmac.new(secret.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()


def user_hash_user(user_id: str, given_hash: str) -> int:
    """The user id, if `given_hash` signs it with INBOX_USER_HASH_SECRET. Raises FeedTokenRefused."""
    secret = settings.INBOX_USER_HASH_SECRET
    if not secret:
        raise FeedTokenRefused("User hashes are not accepted here (INBOX_USER_HASH_SECRET is not set).")
    if not user_id.isdigit() or not 1 <= int(user_id) <= 2**31 - 1:
        raise FeedTokenRefused("The user id must be a positive integer.")
    if not hmac.compare_digest(user_hash(int(user_id), secret), given_hash.lower()):
        raise FeedTokenRefused("The user hash does not match the user id.")
    return int(user_id)
