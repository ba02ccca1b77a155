"""manage.py seed_demo: realistic templates for each channel, demo users with contact points, an admin login."""

import datetime as dt
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from kinds_app.models import Category, NotificationKind
from kinds_app.services import kind_create
from kinds_app.topics import topic_subscribe
from preferences_app.models import DevicePlatform
from preferences_app.services import device_add, preference_update
from templates_app.models import NotificationTemplate
from templates_app.services import template_create

DEMO_TEMPLATES = [
    {
        # The seed's own example: its SendWelcomeEmail sends this template with `name` and `product`.
        "name": "welcome_email",
        "type": "email",
        "subject": "Welcome to {{ product }}, {{ name }}!",
        "body": "Hi {{ name }},\n\nThanks for joining {{ product }}. Your account is ready.\n\n"
                "— The {{ product }} team\n",
        "html_body": "<h1>Welcome, {{ name }}!</h1>\n<p>Thanks for joining <strong>{{ product }}</strong>. "
                     "Your account is ready.</p>\n",
        "variables": {"name": "Ada", "product": "Acme Cloud"},
    },
    {
        "name": "password_reset",
        "type": "email",
        "subject": "Reset your password",
        "body": "Hi {{ first_name }},\n\nSomeone asked to reset your password. If it was you, open this link "
                "within {{ expires_in_minutes }} minutes:\n{{ reset_url }}\n\nIf it was not you, ignore this email.\n",
        "variables": {"first_name": "Ada", "reset_url": "https://app.example.com/reset/abc123",
                      "expires_in_minutes": 30},
    },
    {
        "name": "order_shipped_sms",
        "type": "sms",
        "body": "{{ shop }}: your order {{ order_id }} has shipped and should arrive {{ eta }}. "
                "Track it: {{ tracking_url }}",
        "variables": {"shop": "Acme", "order_id": "A-1042", "eta": "on Friday",
                      "tracking_url": "https://t.example.com/A1042"},
    },
    {
        "name": "login_code_sms",
        "type": "sms",
        "body": "Your {{ product }} login code is {{ code }}. It expires in 10 minutes.",
        "variables": {"product": "Acme Cloud", "code": "482913"},
    },
    {
        "name": "order_update_push",
        "type": "push",
        "subject": "Order {{ order_id }}",
        "body": "{% if status == 'delivered' %}Your order was delivered.{% else %}Your order is {{ status }}."
                "{% endif %}",
        "variables": {"order_id": "A-1042", "status": "out for delivery"},
    },
    {
        "name": "weekly_digest_email",
        "type": "email",
        "subject": "Your week at {{ product }}: {{ items|length }} updates",
        "body": "Hi {{ first_name }}, here is what happened this week:\n"
                "{% for item in items %}- {{ item }}\n{% endfor %}",
        "html_body": "<p>Hi {{ first_name }}, here is what happened this week:</p>\n<ul>\n"
                     "{% for item in items %}  <li>{{ item }}</li>\n{% endfor %}</ul>\n",
        "variables": {"first_name": "Ada", "product": "Acme Cloud",
                      "items": ["3 new comments", "Your invoice is ready", "Tip: <b>keyboard shortcuts</b>"]},
    },
]

DEMO_USERS = [
    {"user_id": 1001, "email": "ada@example.com", "phone_number": "+4915112345678",
     "timezone": "Europe/Berlin", "quiet_hours_start": dt.time(22), "quiet_hours_end": dt.time(7),
     "devices": [(DevicePlatform.IOS, "a" * 64), (DevicePlatform.ANDROID, "fcm-demo-token:APA91bH-demo-1001")]},
    {"user_id": 1002, "email": "grace@example.com", "phone_number": "+14155550123",
     "timezone": "America/New_York", "sms_enabled": False, "devices": []},
    # The user of the seed's examples (GetUserNotifications, SendWelcomeEmail).
    {"user_id": 12345, "email": "seed.user@example.com", "devices": []},
]

# Kinds over the demo templates: key -> (name, category, critical, channel -> template name).
DEMO_KINDS = {
    "order_shipped": ("Order shipped", "transactional", False, {"sms": "order_shipped_sms", "push": "order_update_push"}),
    "password_reset": ("Password reset", "security", True, {"email": "password_reset"}),
    "weekly_digest": ("Weekly digest", "marketing", False, {"email": "weekly_digest_email"}),
}
DEMO_TOPIC = ("order-a-1042-watchers", [1001, 1002])


class Command(BaseCommand):
    help = "Load demo templates, demo users with contact points and preferences, and an 'admin' login."

    @transaction.atomic
    def handle(self, *args, **options):
        made = 0
        for spec in DEMO_TEMPLATES:
            if not NotificationTemplate.objects.filter(name=spec["name"]).exists():
                template_create(created_by="seed_demo", **spec)
                made += 1
        self.stdout.write(f"Templates: {made} added, {len(DEMO_TEMPLATES) - made} already there.")
        for spec in DEMO_TEMPLATES:
            self.stdout.write(f"  {spec['name']} ({spec['type']}): variables {', '.join(spec['variables'])}")

        self.stdout.write("Kinds:")
        for key, (name, category, critical, channels) in DEMO_KINDS.items():
            if not NotificationKind.objects.filter(key=key).exists():
                templates = {channel: NotificationTemplate.objects.get(name=template).id
                             for channel, template in channels.items()}
                # The migrations made these categories; an operator may have removed one since.
                found, _ = Category.objects.get_or_create(key=category, defaults={"name": category.title()})
                kind_create(key=key, name=name, category=found, critical=critical, templates=templates)
            self.stdout.write(f"  {key} ({category}{', critical' if critical else ''}): {', '.join(channels)}")
        topic, _ = topic_subscribe(key=DEMO_TOPIC[0], user_ids=DEMO_TOPIC[1])
        self.stdout.write(f"Topic {topic.key}: users {', '.join(map(str, DEMO_TOPIC[1]))}")

        self.stdout.write("Demo users:")
        for spec in DEMO_USERS:
            spec = dict(spec)
            devices = spec.pop("devices")
            user_id = spec.pop("user_id")
            preference = preference_update(user_id=user_id, **spec)
            for platform, token in devices:
                device_add(user_id=user_id, platform=platform, token=token)
            reach = [preference.email, preference.phone_e164, f"{len(devices)} push devices" if devices else ""]
            self.stdout.write(f"  {user_id}: {', '.join(filter(None, reach))}")

        # Last, and kept in a file: the README's first command starts the server right after this, whose
        # output scrolls the password away.
        password_file = Path(settings.DATA_DIR) / "ADMIN_PASSWORD"
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            kept = f" (kept in {password_file})" if password_file.exists() else ""
            self.stdout.write(f"Admin login: user 'admin' already exists{kept}; manage.py changepassword admin "
                              "sets a new password.")
        else:
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@example.com", password)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(f"{password}\n")
            password_file.chmod(0o600)
            self.stdout.write(f"Admin login: user 'admin', password {password} (also in {password_file})")
