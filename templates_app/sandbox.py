"""The bounded Jinja2 sandbox: a budget of size and time on everything a template does while it renders.

The sandbox stops a template from reaching Python's internals; it does not stop one from spending the
server's memory or time (`{{ 'x' * 10**9 }}`, nested loops, recursive macros, one expression multiplying
huge numbers). So a render runs under a budget: no value, operand or output may grow past the channel's
rendered-size limit, no integer past MAX_INT_DIGITS digits, and the clock is checked before every
bytecode of template code and in every operation the sandbox intercepts (operators, calls, filters,
tests, attribute and item access). What can run past the deadline is one step of bounded size.
"""

from __future__ import annotations

import functools
import math
import re
import string
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from jinja2 import Template, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import _PassArg

# Templates are compiled from strings, so their code objects carry this file name: the deadline
# tracer watches only these frames and leaves the rest of the process alone.
TEMPLATE_FILENAME = "<template>"
# `range()` in a notification needs a handful of items; the sandbox's own cap is 100,000.
MAX_RANGE = 10_000
# String methods whose integer argument is the width of the string they build.
WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
# Filters whose integer arguments are sizes or counts (not data such as `round`'s value).
SIZED_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice", "random"})
# How deep calls may nest while rendering: a macro calling itself, `caller()`, `loop()` in a
# recursive loop, `self.block()`. Every level costs several Python frames.
MAX_CALL_DEPTH = 50
# Integers may have as many digits as Python will print (its default int_max_str_digits): a longer one
# has no place in a message, and arithmetic on numbers with hundreds of thousands of digits takes
# seconds in one uninterruptible step (`7 ** 7000` squared a few times over).
MAX_INT_DIGITS = 4300
MAX_INT_BITS = math.ceil(MAX_INT_DIGITS * math.log2(10))


class RenderLimitExceeded(SecurityError):
    """A render went past its size or time budget."""


# The budget of the render running on this thread ----------------------------------------------


@dataclass
class Budget:
    """What one render may still spend: characters per value and output, a deadline, call depth."""

    max_chars: int
    deadline: float
    call_depth: int = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded("the template took longer than the render time limit")

    def check_size(self, size: int, what: str) -> None:
        if size > self.max_chars:
            raise RenderLimitExceeded(f"{what} would exceed the rendered-size limit ({self.max_chars} bytes)")

    @staticmethod
    def check_number(value: Any, what: str) -> None:
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise RenderLimitExceeded(f"{what} would have more than {MAX_INT_DIGITS} digits")


_local = threading.local()


def _budget() -> Budget:
    budget = getattr(_local, "budget", None)
    if budget is None:
        # Outside a render (Jinja folding constants while compiling): refuse to fold, so the
        # expression is evaluated at render time, under a budget.
        raise nodes.Impossible()
    return budget


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


def _deadline_tracer(budget: Budget) -> Callable[[FrameType, str, Any], Any]:
    def line(frame: FrameType, event: str, arg: Any) -> Any:
        budget.check_time()
        return line

    def call(frame: FrameType, event: str, arg: Any) -> Any:
        # A loop that outputs nothing still runs lines of template code; those lines check the clock.
        # Inside one line (one expression), the sandbox's operators, calls, filters, tests, attribute
        # and item lookups and comparisons check it.
        return line if frame.f_code.co_filename == TEMPLATE_FILENAME else None

    return call


def generate(template: Template, context: Mapping[str, Any], budget: Budget) -> str:
    """Render `template` under `budget`: output is counted as it streams, template code watches the clock."""
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
        budget.check_time()
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
        budget.check_number(result, f"the result of |{name}")
        budget.check_time()
        return result

    return bounded


def _bounded_test(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A test (`is divisibleby`, `is in`) that watches the clock."""

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _budget().check_time()
        return function(*args, **kwargs)

    return bounded


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's compiler, with `~` (string concatenation) measured and comparisons timed: nothing else sees them."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")

    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:
        # Comparisons are not operators the sandbox intercepts; `x in big_list` repeated through one
        # expression would otherwise run without a look at the clock.
        self.write("environment.checked_compare(")
        super().visit_Compare(node, frame)
        self.write(")")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus a size budget on operators, calls, filters and output."""

    code_generator_class = _BoundedCodeGenerator
    # Every arithmetic operator passes through call_binop / call_unop, where operands are measured
    # and the clock is checked, however many of them one expression holds.
    intercepted_binops = frozenset({"*", "**", "+", "-", "/", "//", "%"})
    intercepted_unops = frozenset({"-", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._check_output, **options)
        # lipsum() writes any amount of text; the other globals are harmless under the sandbox.
        self.globals.pop("lipsum", None)
        self.globals["range"] = _bounded_range
        self.filters = {name: _bounded_filter(name, function) for name, function in self.filters.items()}
        self.tests = {name: _bounded_test(name, function) for name, function in self.tests.items()}

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

    @staticmethod
    def checked_compare(value: Any) -> Any:
        _budget().check_time()
        return value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.check_time()
        if isinstance(left, int) and isinstance(right, int):
            _check_arithmetic(operator, left, right)
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

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        _budget().check_time()
        return super().call_unop(context, operator, arg)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _budget().check_time()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            _check_format_string(value.__self__)
        return wrapper

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        budget = _budget()
        budget.check_time()
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
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.call_depth -= 1
        # `(1).from_bytes(text.encode(), 'big')` builds an integer of any size from a string.
        budget.check_number(result, f"the result of {name or 'a call'}()")
        return result


def _check_arithmetic(operator: str, left: int, right: int) -> None:
    """Refuse integer arithmetic on operands past MAX_INT_DIGITS, and a product or power that would
    pass it, before computing it (a sum is at most one bit longer than its operands: linear and cheap)."""
    Budget.check_number(left, "a number")
    Budget.check_number(right, "a number")
    if operator == "*":
        bits = left.bit_length() + right.bit_length() - 1
    elif operator == "**":
        bits = math.ceil(math.log2(abs(left)) * right) if abs(left) > 1 and right > 0 else 1
    else:
        return
    if bits > MAX_INT_BITS:
        raise RenderLimitExceeded(f"the result of '{operator}' would have more than {MAX_INT_DIGITS} digits")


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise RenderLimitExceeded(f"range() may give at most {MAX_RANGE} numbers")
    return numbers


