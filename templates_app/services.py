"""Business operations on templates: create, update (keeping versions), delete, render."""

import json
import re
import unicodedata
from typing import Any, Mapping

from django.core.exceptions import ValidationError
from django.db import transaction

from notification_channels.base import one_line_problem

from .models import NotificationTemplate, NotificationType, TemplateVersion
from .provided import provided_context, provided_variables
from .rendering import HTML_PART, RenderedMessage, context_too_deep, limits_for, placeholders, render_parts

VERSIONED_FIELDS = ("subject", "body", "html_body", "variables")


def _normalise_variables(variables: Any) -> dict[str, Any] | None:
    """Accept {"name": example} or ["name", ...]; None means "derive from the placeholders"."""
    if variables is None:
        return None
    if isinstance(variables, (list, tuple)):
        if not all(isinstance(name, str) for name in variables):
            raise ValidationError({"variables": "A list of variables must hold only names (strings)."})
        return {name: None for name in variables}
    if isinstance(variables, dict):
        too_deep = context_too_deep(variables)  # the examples are a context: the same bound applies
        if too_deep:
            raise ValidationError({"variables": too_deep})
        return dict(variables)
    raise ValidationError({"variables": "Must be an object of name -> example value, or a list of names."})


def template_validate(*, type: str, subject: str | None, body: str, html_body: str,
                      variables: Any) -> dict[str, Any]:
    """Check a template's text and return its declared variables (derived if none were declared).

    Raises ValidationError keyed by field: unknown type, empty body, missing email subject, HTML
    on a non-email template, oversized text, a syntax error, an unsafe attribute, or placeholders
    that disagree with the declared variables. The variables the service provides to the type
    (`provided.py`: an email's `preferences_url`) are neither derived nor required to be declared.
    """
    errors: dict[str, str] = {}
    if type not in NotificationType.values:
        errors["type"] = f"Must be one of: {', '.join(NotificationType.values)}."
    if not body or not body.strip():
        errors["body"] = "This field may not be blank."
    if type == NotificationType.EMAIL and not (subject or "").strip():
        errors["subject"] = "Email templates need a subject."
    if problem := one_line_problem(subject):
        errors["subject"] = f"Must be one line of text; it {problem}."
    if html_body and type != NotificationType.EMAIL:
        errors[HTML_PART] = "Only email templates have an HTML body."
    limit = limits_for(type).template_bytes
    for field, text in (("subject", subject), ("body", body), (HTML_PART, html_body)):
        if text and len(text.encode()) > limit:
            errors[field] = f"Must be at most {limit} bytes."
    if errors:
        raise ValidationError(errors)

    declared = _normalise_variables(variables)
    by_part = placeholders({"subject": subject, "body": body, HTML_PART: html_body})
    used = set().union(*by_part.values())
    provided = set(provided_variables(type))
    if declared is None:
        return {name: None for name in sorted(used - provided)}
    # An undeclared name is the fault of the text that uses it; an unused declaration, of the variables.
    for part, names in by_part.items():
        undeclared = sorted(names - set(declared) - provided)
        if undeclared:
            errors[part] = (f"Uses a name the variables do not declare: {', '.join(undeclared)} (declare it "
                            "there, or leave the variables out to derive them from the text).")
    unused = sorted(set(declared) - used)
    if unused:
        errors["variables"] = f"Declared but not used: {', '.join(unused)} (no placeholder names it)."
    if errors:
        raise ValidationError(errors)
    return declared


# What a template may be called, once NFKC has folded compatibility forms (fullwidth letters, ligatures) to
# their plain ones: lower-case ASCII letters and digits, then also `_`, `.` and `-`; at most 100 characters.
# Look-alikes from other scripts (a Cyrillic а) and accented letters (NFC and NFD spell them differently) are
# refused rather than made into templates of their own.
TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
TEMPLATE_NAME_RULE = ("Read in Unicode NFKC (fullwidth letters are the plain ones), then 1 to 100 of: lower-case "
                      "letters a-z, digits, '_', '.' and '-', starting with a letter or digit.")


def template_name_normalize(name: Any) -> Any:
    """The name in NFKC (fullwidth `ｒｅｓｅｔ` is `reset`); anything but a string as it is."""
    return unicodedata.normalize("NFKC", name) if isinstance(name, str) else name


def template_name_clean(name: Any) -> str:
    """The name a template is stored and found under. Raises ValidationError under "name" for one outside
    TEMPLATE_NAME."""
    name = template_name_normalize(name)
    if not isinstance(name, str) or not TEMPLATE_NAME.fullmatch(name):
        raise ValidationError({"name": f"Not a template name. {TEMPLATE_NAME_RULE}"})
    return name


def _record_version(template: NotificationTemplate, created_by: str) -> None:
    TemplateVersion.objects.create(
        template=template,
        version=template.version,
        subject=template.subject,
        body=template.body,
        html_body=template.html_body,
        variables=template.variables,
        created_by=created_by,
    )


@transaction.atomic
def template_create(*, name: str, type: str, body: str, subject: str | None = None, html_body: str = "",
                    variables: Any = None, created_by: str = "") -> NotificationTemplate:
    """Create a template and its version 1. Raises ValidationError (including a taken name)."""
    name = template_name_clean(name)
    variables = template_validate(type=type, subject=subject, body=body, html_body=html_body, variables=variables)
    template = NotificationTemplate(name=name, type=type, subject=subject, body=body, html_body=html_body,
                                    variables=variables)
    template.full_clean()
    template.save()
    _record_version(template, created_by)
    return template


@transaction.atomic
def template_update(*, template: NotificationTemplate, updated_by: str = "", **changes: Any) -> NotificationTemplate:
    """Change a template; a change of its text or variables makes a new numbered version.

    `changes` may hold name, type, subject, body, html_body, variables. Raises ValidationError.
    """
    unknown = set(changes) - {"name", "type", *VERSIONED_FIELDS}
    if unknown:
        raise ValidationError({field: "Unknown field." for field in sorted(unknown)})
    if "name" in changes and changes["name"] != template.name:  # a name given before the rule may stay
        changes["name"] = template_name_clean(changes["name"])
    merged = {field: changes.get(field, getattr(template, field)) for field in ("type", *VERSIONED_FIELDS)}
    if "variables" not in changes and any(field in changes for field in ("subject", "body", "html_body")):
        # The text changed but the declaration was not restated: keep the examples that still apply.
        used = set().union(*placeholders({f: merged[f] for f in ("subject", "body", HTML_PART)}).values())
        used -= set(provided_variables(merged["type"]))
        old = template.variables or {}
        merged["variables"] = {name: old.get(name) for name in sorted(used)}
    merged["variables"] = template_validate(**merged)

    text_changed = any(merged[field] != getattr(template, field) for field in VERSIONED_FIELDS)
    for field, value in {**changes, **merged}.items():
        setattr(template, field, value)
    template.full_clean()
    if text_changed:
        template.version += 1
    template.save()
    if text_changed:
        _record_version(template, updated_by)
    return template


def template_delete(*, template: NotificationTemplate) -> None:
    """Delete a template and its versions; logs sent with it keep its name and stay readable."""
    template.delete()


def example_context(template: NotificationTemplate) -> dict[str, Any]:
    """The declared example values, with the variable's name standing in where none was given."""
    return {name: (example if example is not None else f"<{name}>")
            for name, example in (template.variables or {}).items()}


def template_render(*, template: NotificationTemplate, context: Mapping[str, Any] | None = None) -> RenderedMessage:
    """Render the template's current text. With no context, its example values are used.

    The channel's limits (`limits_for(template.type)`) bound the context, the rendered parts and
    the time taken. The variables the service provides (`provided.py`) are rendered as their markers, which
    delivery replaces per user. Raises ValidationError naming a missing variable, a refused construct or a limit.
    """
    if context is None:
        context = example_context(template)
    limits = limits_for(template.type)
    too_deep = context_too_deep(context)
    if too_deep:
        raise ValidationError({"context": too_deep})
    size = len(json.dumps(context, default=str).encode())
    if size > limits.context_bytes:
        raise ValidationError({"context": f"Is {size} bytes; the limit for {template.type} is {limits.context_bytes}."})
    parts = {"subject": template.subject, "body": template.body, HTML_PART: template.html_body}
    return render_parts(parts, {**context, **provided_context(template.type)}, limits=limits)


def template_preview(*, type: str, subject: str | None, body: str, html_body: str, variables: Any,
                     context: Mapping[str, Any] | None) -> RenderedMessage:
    """Render unsaved template text, as the admin's live preview shows it.

    With no context, the declared example values are used. Raises ValidationError keyed by field.
    """
    declared = template_validate(type=type, subject=subject, body=body, html_body=html_body, variables=variables)
    draft = NotificationTemplate(type=type, subject=subject, body=body, html_body=html_body, variables=declared)
    return template_render(template=draft, context=context)
