"""Turning template text and a context into a message, in a bounded Jinja2 sandbox.

Two sandboxed environments share one policy: undefined variables are errors (never a blank
in a customer's message), attributes starting with an underscore are refused, and only the
HTML environment autoescapes. Compiled templates are cached by their source text.

The sandbox stops a template from reaching Python's internals; it does not stop one from
spending the server's memory or time (`{{ 'x' * 10**9 }}`, nested loops, recursive macros).
So every render also runs under a budget per channel (`limits_for`): no value, operand or output
may grow past the channel's rendered-size limit, and rendering stops at its deadline.
"""

from __future__ import annotations

import functools
import math
import re
import string
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import _PassArg

TEXT_PARTS = ("subject", "body")
HTML_PART = "html_body"

# Templates are compiled from strings, so their code objects carry this file name: the deadline
# tracer watches only these frames and leaves the rest of the process alone.
TEMPLATE_FILENAME = "<template>"
# `range()` in a notification needs a handful of items; the sandbox's own cap is 100,000.
MAX_RANGE = 10_000
# String methods whose integer argument is the width of the string they build.
WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
# Filters whose integer arguments are sizes or counts (not data such as `round`'s value).
SIZED_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice", "random"})
# How deep a template's syntax tree may be (tags in tags, brackets, operators, filter chains).
# Jinja's compiler, CPython's compiler and the rendered code recurse once or more per level, so
# a bound of our own keeps them far from the interpreter's recursion limit and the C stack, whatever
# the limit is set to in the process (test runners raise it).
MAX_NESTING = 50
# How deep calls may nest while rendering: a macro calling itself, `caller()`, `loop()` in a
# recursive loop, `self.block()`. Every level costs several Python frames.
MAX_CALL_DEPTH = 50
# How deep a send's context may nest (objects in lists in objects...); JSON encoders and the
# rendered code recurse per level.
MAX_CONTEXT_NESTING = 32


class RenderLimitExceeded(SecurityError):
    """A render went past its size or time budget."""


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


# The budget of the render running on this thread ----------------------------------------------


@dataclass
class _Budget:
    max_chars: int
    deadline: float
    call_depth: int = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded("the template took longer than the render time limit")

    def check_size(self, size: int, what: str) -> None:
        if size > self.max_chars:
            raise RenderLimitExceeded(f"{what} would exceed the rendered-size limit ({self.max_chars} bytes)")


_local = threading.local()


def _budget() -> _Budget:
    budget = getattr(_local, "budget", None)
    if budget is None:
        # Outside a render (Jinja folding constants while compiling): refuse to fold, so the
        # expression is evaluated at render time, under a budget.
        raise nodes.Impossible()
    return budget


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


def estimated_size(value: Any, limit: int) -> int:
    """About how many characters `value` takes as text, counting no further than just past `limit`.

    Walks containers without recursion and stops early, so a structure that shares one big
    string a million times costs no more to measure than the limit.
    """
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (bytes, bytearray)):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, Mapping):
            total += 2
            for key, nested in item.items():
                stack.extend((key, nested))
                total += 4
                if total > limit or len(stack) > limit:
                    break
        elif isinstance(item, range):
            total += len(item) * (len(str(item.stop)) + 2)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        else:
            total += 8
    return total


# Deadline: a tracer on template frames ---------------------------------------------------------


def _deadline_tracer(budget: _Budget) -> Callable[[FrameType, str, Any], Any]:
    def line(frame: FrameType, event: str, arg: Any) -> Any:
        budget.check_time()
        return line

    def call(frame: FrameType, event: str, arg: Any) -> Any:
        # A loop that outputs nothing still runs lines of template code; those lines check the clock.
        return line if frame.f_code.co_filename == TEMPLATE_FILENAME else None

    return call


# The environment -------------------------------------------------------------------------------


def _check_printf(fmt: str) -> None:
    """Refuse %-formats whose width or precision come from the arguments or exceed the budget."""
    budget = _budget()
    for match in re.finditer(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?", fmt):
        for number in match.groups():
            if number == "*":
                raise RenderLimitExceeded("a '*' width in a %-format is not allowed")
            if number and int(number) > budget.max_chars:
                budget.check_size(int(number), "a %-format width")


def _check_format_string(fmt: str) -> None:
    """Refuse str.format specs with nested fields or widths past the budget."""
    budget = _budget()
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format will raise the same error itself
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise RenderLimitExceeded("nested format fields are not allowed")
        for number in re.findall(r"\d+", spec):
            budget.check_size(int(number), "a format width")


def _check_sized_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any], what: str) -> None:
    budget = _budget()
    for argument in (*args, *kwargs.values()):
        if isinstance(argument, int) and not isinstance(argument, bool):
            budget.check_size(abs(argument), what)


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses inputs or size arguments past the budget, and outputs past it."""
    passes_first = _PassArg.from_obj(function) is not None

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        data = args[1:] if passes_first else args
        if data:
            budget.check_size(estimated_size(data[0], budget.max_chars), f"the input of |{name}")
        if name in SIZED_FILTERS:
            _check_sized_arguments(tuple(data[1:]), kwargs, f"the size given to |{name}")
        if name == "format" and data and isinstance(data[0], str):
            _check_printf(data[0])
        if name == "replace" and len(data) >= 3 and isinstance(data[0], str):
            old, new = str(data[1]), str(data[2])
            grows = max(0, len(new) - len(old)) * (data[0].count(old) if old else len(data[0]) + 1)
            budget.check_size(len(data[0]) + grows, "the result of |replace")
        result = function(*args, **kwargs)
        if isinstance(result, (str, list, tuple)):
            budget.check_size(estimated_size(result, budget.max_chars), f"the result of |{name}")
        return result

    return bounded


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's compiler, with `~` (string concatenation) measured: nothing else sees it."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus a size budget on operators, calls, filters and output."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._check_output, **options)
        # lipsum() writes any amount of text; the other globals are harmless under the sandbox.
        self.globals.pop("lipsum", None)
        self.globals["range"] = _bounded_range
        self.filters = {name: _bounded_filter(name, function) for name, function in self.filters.items()}

    @staticmethod
    def _check_output(value: Any) -> Any:
        budget = _budget()
        if callable(value) and not isinstance(value, Undefined):
            # A function or class has no place in a message, and its repr shows memory addresses.
            raise SecurityError("a function or class cannot be output")
        budget.check_size(estimated_size(value, budget.max_chars), "an output value")
        return value

    @staticmethod
    def checked_concat(value: str) -> str:
        _budget().check_size(len(value), "a '~' concatenation")
        return value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        if operator == "**":
            if isinstance(left, (int, float)) and isinstance(right, (int, float)):
                magnitude = math.log2(abs(left)) if abs(left) > 1 else 0.0
                budget.check_size(int(magnitude * right / 3.3) if right > 0 else 0, "a power")
        elif operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
                    size = estimated_size(sequence, budget.max_chars)
                    budget.check_size(size * max(count, 0), "a repetition")
        elif operator == "+":
            if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
                budget.check_size(estimated_size(left, budget.max_chars) + estimated_size(right, budget.max_chars),
                                  "a concatenation")
        elif operator == "%" and isinstance(left, str):
            _check_printf(left)
            budget.check_size(estimated_size(right, budget.max_chars), "the arguments of a %-format")
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            _check_format_string(value.__self__)
        return wrapper

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        budget = _budget()
        budget.check_size(estimated_size([args, kwargs], budget.max_chars), "the arguments of a call")
        name = getattr(__obj, "__name__", "")
        if isinstance(getattr(__obj, "__self__", None), str):
            if name in WIDTH_METHODS:
                _check_sized_arguments(args, kwargs, f"the width given to .{name}()")
            elif name == "replace" and len(args) >= 2:
                text, old, new = __obj.__self__, str(args[0]), str(args[1])
                grows = max(0, len(new) - len(old)) * (text.count(old) if old else len(text) + 1)
                budget.check_size(len(text) + grows, "the result of .replace()")
        if budget.call_depth >= MAX_CALL_DEPTH:
            raise RenderLimitExceeded(f"calls may nest at most {MAX_CALL_DEPTH} deep (a macro calling itself?)")
        budget.call_depth += 1
        try:
            return super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.call_depth -= 1


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise RenderLimitExceeded(f"range() may give at most {MAX_RANGE} numbers")
    return numbers


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
    name for a construct the sandbox refuses, a render past the size or time limit, or an error
    raised while rendering.
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
        if len(rendered[field].encode()) > limits.rendered_bytes:
            raise ValidationError({field: f"Renders to more than {limits.rendered_bytes} bytes."})
    return RenderedMessage(**rendered)


def _generate(source: str, html: bool, context: Mapping[str, Any], budget: _Budget) -> str:
    """Render under `budget`: output is counted as it streams, template lines watch the clock."""
    template = _compile(source, html)
    _local.budget = budget
    previous_tracer = sys.gettrace()
    sys.settrace(_deadline_tracer(budget))
    try:
        chunks: list[str] = []
        written = 0
        stream: Iterator[str] = template.generate(context)
        for chunk in stream:
            written += len(chunk)
            budget.check_size(written, "the output")
            budget.check_time()
            chunks.append(chunk)
        return "".join(chunks)
    finally:
        sys.settrace(previous_tracer)
        _local.budget = None


def _render_one(field: str, source: str, context: Mapping[str, Any], limits: RenderLimits) -> str:
    budget = _Budget(max_chars=limits.rendered_bytes, deadline=time.monotonic() + limits.render_ms / 1000)
    try:
        return _generate(source, field == HTML_PART, context, budget)
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
