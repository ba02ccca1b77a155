"""Turning template text and a context into a message, in a Jinja2 sandbox.

Two sandboxed environments share one policy: undefined variables are errors (never a blank
in a customer's message), attributes starting with an underscore are refused, and only the
HTML environment autoescapes. Compiled templates are cached by their source text.
"""

import functools
import re
from dataclasses import dataclass
from typing import Any, Mapping

from django.core.exceptions import ValidationError
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

TEXT_PARTS = ("subject", "body")
HTML_PART = "html_body"


def _environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
        auto_reload=False,
    )


_ENVIRONMENTS = {False: _environment(autoescape=False), True: _environment(autoescape=True)}


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str
    html_body: str


@functools.lru_cache(maxsize=1024)
def _compile(source: str, html: bool):
    return _ENVIRONMENTS[html].from_string(source)


def _parse(field: str, source: str) -> nodes.Template:
    try:
        return _ENVIRONMENTS[field == HTML_PART].parse(source)
    except TemplateSyntaxError as err:
        raise ValidationError({field: f"Template syntax error on line {err.lineno}: {err.message}"}) from err


def _unsafe_attribute(tree: nodes.Template) -> str | None:
    """The first underscore attribute the template reaches for, which the sandbox would refuse anyway."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            return name
    return None


def placeholders(parts: Mapping[str, str | None]) -> dict[str, set[str]]:
    """The top-level variables each non-empty part uses, after checking that it parses and is safe.

    Raises ValidationError naming the part and the problem.
    """
    found: dict[str, set[str]] = {}
    for field, source in parts.items():
        if not source:
            continue
        tree = _parse(field, source)
        unsafe = _unsafe_attribute(tree)
        if unsafe:
            raise ValidationError({field: f"Templates may not use attributes starting with '_' ({unsafe!r})."})
        found[field] = meta.find_undeclared_variables(tree)
    return found


_MISSING_NAME = re.compile(r"'([^']+)' is undefined")


def render_parts(parts: Mapping[str, str | None], context: Mapping[str, Any]) -> RenderedMessage:
    """Render subject, body and HTML body with `context`.

    Raises ValidationError: under "context" naming every missing variable, or under the part's
    name for a construct the sandbox refuses or an error raised while rendering.
    """
    missing = sorted(set().union(*placeholders(parts).values()) - set(context)) if parts else []
    if missing:
        names = ", ".join(missing)
        raise ValidationError({"context": f"Missing variable{'s' if len(missing) > 1 else ''}: {names}"})
    rendered = {}
    for field in (*TEXT_PARTS, HTML_PART):
        source = parts.get(field) or ""
        rendered[field] = _render_one(field, source, context) if source else ""
    return RenderedMessage(**rendered)


def _render_one(field: str, source: str, context: Mapping[str, Any]) -> str:
    try:
        return _compile(source, field == HTML_PART).render(context)
    except SecurityError as err:
        raise ValidationError({field: f"Refused by the template sandbox: {err}"}) from err
    except UndefinedError as err:
        name = _MISSING_NAME.search(str(err))
        message = f"Missing variable: {name.group(1)}" if name else f"Undefined value: {err}"
        raise ValidationError({"context": message}) from err
    except TemplateError as err:
        raise ValidationError({field: f"Could not render: {err}"}) from err
    except (ArithmeticError, TypeError, ValueError, LookupError) as err:
        raise ValidationError({field: f"Could not render: {err}"}) from err
