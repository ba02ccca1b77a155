"""The hook consent records hang on: sent whenever a user's choices change, by whatever door."""

from django.dispatch import Signal

# Sent (user_id=, source=, changes=[(field, old, new), ...]) inside the transaction that made the changes,
# only when something changed. `field` is a preference field (`email_enabled`, `quiet_hours_start`,
# `timezone`) or a choice (`categories.marketing.email`, `kinds.order_shipped.sms`); values are text
# ("on", "off", "22:00", "Europe/Berlin") or None (not set). `source` names the door: api, graphql, admin,
# preference_page, one_click, sms, internal.
preferences_changed = Signal()

# The preference fields that are consent (contact points are where, not whether).
CONSENT_FIELDS = ("email_enabled", "sms_enabled", "push_enabled", "in_app_enabled", "quiet_hours_start",
                  "quiet_hours_end", "timezone")


def consent_value(value: object) -> str | None:
    """A choice as consent records write it: on/off, HH:MM, the text itself, or None."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or value == "":
        return None
    if hasattr(value, "strftime"):
        return value.strftime("%H:%M")
    return str(value)


def send_changes(*, user_id: int, source: str, before: dict[str, object], after: dict[str, object]) -> None:
    """Send preferences_changed for the fields whose value differs between `before` and `after`."""
    changes = [(field, consent_value(before.get(field)), consent_value(after.get(field)))
               for field in sorted(set(before) | set(after))]
    changes = [change for change in changes if change[1] != change[2]]
    if changes:
        preferences_changed.send(sender=None, user_id=user_id, source=source, changes=changes)
