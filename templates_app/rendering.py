"""Turning template text and a context into a message, in a bounded Jinja2 sandbox (`sandbox.py`).

Two sandboxed environments share one policy: undefined variables are errors (never a blank
in a customer's message), attributes starting with an underscore are refused, and only the
HTML environment autoescapes. Compiled templates are cached by their source text. Every render
runs under a budget per channel (`limits_for`): the sandbox refuses any value, operand or output
past the channel's rendered-size limit and stops the render at its deadline.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import TemplateError, UndefinedError
from jinja2.sandbox import SecurityError

from notification_channels.base import one_line_problem

from .sandbox import BoundedSandbox, Budget, RenderLimitExceeded, generate

TEXT_PARTS = ("subject", "body")
HTML_PART = "html_body"

# How deep a template's syntax tree may be (tags in tags, brackets, operators, filter chains).
# Jinja's compiler, CPython's compiler and the rendered code recurse once or more per level, so
# a bound of our own keeps them far from the interpreter's recursion limit and the C stack, whatever
# the limit is set to in the process (test runners raise it).
MAX_NESTING = 50
# How deep a send's context may nest (objects in lists in objects...); JSON encoders and the
# rendered code recurse per level.
MAX_CONTEXT_NESTING = 32


@dataclass(frozen=True)
class RenderLimits:
    """How big a template part, a send context and a rendered part may be (bytes), and how long a render may take."""

    template_bytes: int
    context_bytes: int
    rendered_bytes: int
    render_ms: int


def limits_for(channel: str | None) -> RenderLimits:
    """The limits of a channel (`NOTIFICATION_RENDER_LIMITS`); an unknown channel gets email's."""
    configured: Mapping[str, Mapping[str, int]] = settings.NOTIFICATION_RENDER_LIMITS
    per_channel = configured.get(channel or "email") or configured["email"]
    return RenderLimits(template_bytes=int(per_channel["template_bytes"]),
                        context_bytes=int(per_channel["context_bytes"]),
                        rendered_bytes=int(per_channel["rendered_bytes"]),
                        render_ms=int(settings.NOTIFICATION_RENDER_TIMEOUT_MS))


def nests_deeper_than(root: Any, limit: int, *, children: Callable[[Any], Iterable[Any]] | None = None) -> bool:
    """Whether `root` holds something more than `limit` levels down, found without recursion.

    `children` gives what a value holds; by default the items of JSON-like data (mappings' values,
    lists and tuples).
    """
    children = children or _data_children
    stack = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children(value))
    return False


def context_too_deep(context: Any) -> str | None:
    """Why a send's context is refused for its depth, checked before anything recurses into it (None if
    it is not)."""
    if nests_deeper_than(context, MAX_CONTEXT_NESTING):
        return f"Is nested more than {MAX_CONTEXT_NESTING} levels deep."
    return None


def _data_children(value: Any) -> Iterable[Any]:
    if isinstance(value, Mapping):
        return value.values()
    return value if isinstance(value, (list, tuple)) else ()


def _environment(*, autoescape: bool) -> BoundedSandbox:
    return BoundedSandbox(
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
    """The part's syntax tree, refused if it does not parse or nests deeper than MAX_NESTING.

    Jinja's parser recurses in Python frames only (it cannot overflow the C stack); what comes
    after it (its visitors, code generation, CPython's compiler) may, so the depth is checked here.
    """
    too_deep = ValidationError({field: f"The template is nested too deeply (at most {MAX_NESTING} levels)."})
    try:
        tree = _ENVIRONMENTS[field == HTML_PART].parse(source)
    except TemplateSyntaxError as err:
        raise _syntax_error(field, err) from err
    except RecursionError as err:
        raise too_deep from err
    if nests_deeper_than(tree, MAX_NESTING, children=nodes.Node.iter_child_nodes):
        raise too_deep
    return tree


def _syntax_error(field: str, err: TemplateSyntaxError) -> ValidationError:
    return ValidationError({field: f"Template syntax error on line {err.lineno}: {err.message}"})


def _unsafe_attribute(tree: nodes.Template) -> str | None:
    """The first underscore attribute the template reaches for, which the sandbox would refuse anyway."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.NSRef)):
        name = getattr(node.arg, "value", None) if isinstance(node, nodes.Getitem) else node.attr
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
        found[field] = set(_placeholders_of(field, source))
    return found


@functools.lru_cache(maxsize=1024)
def _placeholders_of(field: str, source: str) -> frozenset[str]:
    """One part's checked placeholders, cached by its text (every send reads the same few templates);
    a part that fails the checks raises each time, since errors are not cached."""
    tree = _parse(field, source)
    unsafe = _unsafe_attribute(tree)
    if unsafe:
        raise ValidationError({field: f"Templates may not use attributes starting with '_' ({unsafe!r})."})
    try:  # compiled now, so that a part Jinja or CPython cannot compile is refused when it is saved
        _compile(source, field == HTML_PART)
    except TemplateSyntaxError as err:
        raise _syntax_error(field, err) from err
    except SyntaxError as err:  # CPython's own limits, such as 20 nested loops
        raise ValidationError({field: f"The template cannot be compiled: {err.msg}."}) from err
    return frozenset(meta.find_undeclared_variables(tree))


_MISSING_NAME = re.compile(r"'([^']+)' is undefined")


def render_parts(parts: Mapping[str, str | None], context: Mapping[str, Any], *,
                 limits: RenderLimits | None = None) -> RenderedMessage:
    """Render subject, body and HTML body with `context`, within `limits` (email's by default).

    Raises ValidationError: under "context" naming every missing variable, or under the part's
    name for a construct the sandbox refuses, a render past the size or time limit, an error
    raised while rendering, or a subject that renders to more than one line (or holds a control character).
    """
    limits = limits or limits_for(None)
    missing = sorted(set().union(*placeholders(parts).values()) - set(context)) if parts else []
    if missing:
        names = ", ".join(missing)
        raise ValidationError({"context": f"Missing variable{'s' if len(missing) > 1 else ''}: {names}"})
    rendered = {}
    for field in (*TEXT_PARTS, HTML_PART):
        source = parts.get(field) or ""
        rendered[field] = _render_one(field, source, context, limits) if source else ""
        if field == "subject" and (problem := one_line_problem(rendered[field])):
            raise ValidationError({field: f"Must render to one line of text; with this context it {problem}."})
        if len(rendered[field].encode()) > limits.rendered_bytes:
            raise ValidationError({field: f"Renders to more than {limits.rendered_bytes} bytes."})
    return RenderedMessage(**rendered)


def _render_one(field: str, source: str, context: Mapping[str, Any], limits: RenderLimits) -> str:
    budget = Budget(max_chars=limits.rendered_bytes, deadline=time.monotonic() + limits.render_ms / 1000)
    try:
        return generate(_compile(source, field == HTML_PART), context, budget)
    except RenderLimitExceeded as err:
        raise ValidationError({field: f"Refused: {err}."}) from err
    except SecurityError as err:
        raise ValidationError({field: f"Refused by the template sandbox: {err}"}) from err
    except UndefinedError as err:
        name = _MISSING_NAME.search(str(err))
        message = f"Missing variable: {name.group(1)}" if name else f"Undefined value: {err}"
        raise ValidationError({"context": message}) from err
    except TemplateError as err:
        raise ValidationError({field: f"Could not render: {err}"}) from err
    except RecursionError as err:
        raise ValidationError({field: "Refused: the template recurses too deeply."}) from err
    except MemoryError as err:
        raise ValidationError({field: "Refused: the template needs too much memory."}) from err
    except Exception as err:  # noqa: BLE001 - Jinja's filters raise what Python raises (AttributeError,
        # AssertionError, ...) on data they do not expect; for the caller that is bad input, not a crash.
        raise ValidationError({field: f"Could not render: {type(err).__name__}: {err}"}) from err
