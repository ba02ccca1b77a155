"""factory_boy factories: a valid object in one line."""

import factory

from apikeys_app.models import APIKey
from kinds_app.models import Category, KindTemplate, NotificationKind
from logs_app.models import NotificationLog
from preferences_app.models import Device, DevicePlatform, UserPreference
from templates_app.models import NotificationTemplate, NotificationType, TemplateVersion


class NotificationTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationTemplate
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"template_{n}")
    type = NotificationType.EMAIL
    subject = "Hello {{ first_name }}"
    body = "Hi {{ first_name }}, your code is {{ code }}."
    variables = factory.LazyFunction(lambda: {"first_name": "Ada", "code": "1234"})

    @factory.post_generation
    def first_version(template, create, extracted, **kwargs):
        if create:
            TemplateVersion.objects.create(template=template, version=template.version, subject=template.subject,
                                           body=template.body, html_body=template.html_body,
                                           variables=template.variables)


class UserPreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserPreference
        django_get_or_create = ("user_id",)

    user_id = factory.Sequence(lambda n: 5000 + n)
    email = factory.LazyAttribute(lambda p: f"user{p.user_id}@example.com")
    phone_number = "+4915112345678"


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    preference = factory.SubFactory(UserPreferenceFactory)
    platform = DevicePlatform.IOS
    token = factory.Sequence(lambda n: f"{n:064x}")


class NotificationLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationLog

    user_id = 1
    template = factory.SubFactory(NotificationTemplateFactory)
    template_name = factory.LazyAttribute(lambda log: log.template.name if log.template else "")
    template_version = 1
    type = NotificationType.EMAIL
    recipient = "user@example.com"
    subject = "Hello Ada"
    body = "Hi Ada"


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"category-{n}")
    name = factory.LazyAttribute(lambda c: c.key.title())


DEFAULT_KIND_CHANNELS = (NotificationType.EMAIL, NotificationType.SMS, NotificationType.PUSH)


class NotificationKindFactory(factory.django.DjangoModelFactory):
    """A kind with an email, an SMS and a push template (`channels=[...]` for others, such as in_app)."""

    class Meta:
        model = NotificationKind
        skip_postgeneration_save = True

    key = factory.Sequence(lambda n: f"kind_{n}")
    name = factory.LazyAttribute(lambda k: k.key.replace("_", " ").title())
    category = factory.SubFactory(CategoryFactory, key="transactional")

    @factory.post_generation
    def channels(kind, create, extracted, **kwargs):
        if not create:
            return
        for channel in extracted if extracted is not None else DEFAULT_KIND_CHANNELS:
            template = NotificationTemplateFactory(
                name=f"{kind.key}_{channel}", type=channel,
                subject="Hello {{ first_name }}" if channel == NotificationType.EMAIL else None)
            KindTemplate.objects.create(kind=kind, channel=channel, template=template)


def api_key(name: str = "test-client", scopes: list[str] | None = None) -> tuple[APIKey, str]:
    from apikeys_app.services import api_key_create

    return api_key_create(name=name, scopes=scopes)
