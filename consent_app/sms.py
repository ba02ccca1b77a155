"""What a text from a user's phone says about their consent: STOP, START and HELP (the carriers' keywords)."""

import logging

from django.conf import settings
from django.db import transaction

from preferences_app.services import preference_update

from .models import ConsentSource, Suppression, SuppressionChannel, SuppressionReason
from .records import users_with_address
from .services import suppression_add, suppression_remove

logger = logging.getLogger(__name__)

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP"})


def sms_keyword(body: str) -> str | None:
    """The keyword a text is, if it is one: the whole text, any case, with surrounding spaces and a final
    full stop or exclamation mark ignored ("Stop." is STOP; "stop sending" is not)."""
    word = (body or "").strip().rstrip(".!").strip().upper()
    return word if word in STOP_WORDS | START_WORDS | HELP_WORDS else None


@transaction.atomic
def sms_keyword_received(*, number: str, body: str, provider: str = "twilio") -> str | None:
    """Act on a text from `number`: a STOP word turns SMS off for every user with that number (a number no
    user has goes on the suppression list as `sms_opt_out`); a START word turns it on again and lifts an
    `sms_opt_out` entry. Returns the reply to send: NOTIFICATION_SMS_HELP_TEXT for HELP, else None."""
    keyword = sms_keyword(body)
    if keyword is None or not number:
        return None
    if keyword in HELP_WORDS:
        return settings.NOTIFICATION_SMS_HELP_TEXT
    users = users_with_address(channel=SuppressionChannel.SMS, address=number)
    on = keyword in START_WORDS
    for user_id in users:
        preference_update(user_id=user_id, sms_enabled=on, source=ConsentSource.SMS)
    if on:
        for entry in Suppression.objects.filter(channel=SuppressionChannel.SMS, address=number,
                                                reason=SuppressionReason.SMS_OPT_OUT):
            suppression_remove(suppression_id=entry.pk, source=f"{provider}: {keyword}")
    elif not users:
        suppression_add(channel=SuppressionChannel.SMS, address=number, reason=SuppressionReason.SMS_OPT_OUT,
                        detail=f"Replied {keyword}.", source=provider)
    logger.info("sms keyword", extra={"keyword": keyword, "users": len(users)})
    return None
