"""The categories a fresh install starts with; operators change them and add their own."""

from django.db import migrations

DEFAULT_CATEGORIES = [
    ("transactional", "Transactional", "Messages about something the user did: orders, receipts, sign-ups."),
    ("security", "Security", "Sign-ins, password changes and other account security notices."),
    ("product", "Product", "News about the product the user uses: new features, changes."),
    ("marketing", "Marketing", "Offers and newsletters."),
]


def create(apps, schema_editor):
    Category = apps.get_model("kinds_app", "Category")
    for key, name, description in DEFAULT_CATEGORIES:
        Category.objects.get_or_create(key=key, defaults={"name": name, "description": description})


def remove(apps, schema_editor):
    Category = apps.get_model("kinds_app", "Category")
    Category.objects.filter(key__in=[key for key, _, _ in DEFAULT_CATEGORIES], kinds__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("kinds_app", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
