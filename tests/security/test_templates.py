"""Templates: the sandbox holds against server-side template injection and stays within its limits.

Every payload in the catalogue is refused (a ValidationError naming the part, as the API's 400)
within the render time limit; none reaches Python's internals, and none spends unbounded memory.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from templates_app.rendering import MAX_NESTING, limits_for, placeholders, render_parts
from templates_app.sandbox import MAX_CALL_DEPTH, MAX_INT_DIGITS
from templates_app.services import template_create, template_render, template_validate
from tests.security.slow_templates import SLOW_TEMPLATES

CONTEXT = {"name": "Ada", "d": {"a": 1}, "k": "__class__", "items": [1, 2], "n": 3}

ESCAPES = [  # attribute walks, globals, format-string tricks, |attr, loaders
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ ''['__class__'] }}",
    "{{ ''['\\x5f\\x5fclass\\x5f\\x5f'] }}",
    "{{ ''|attr('__class__') }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ d[k] }}",
    "{{ d|attr(k) }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ lipsum(n=100000) }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__dict__ }}",
    "{{ range.__globals__ }}",
    "{{ cycler }}",
    "{{ range }}",
    "{% set ns = namespace() %}{% set ns.__class__ = 1 %}{{ ns }}",
    "{{ '{0.__class__}'.format(name) }}",
    "{{ ('{0.' ~ '__class__}').format(name) }}",
    "{{ '{0.__class__.__mro__}'.format_map({'0': name}) }}",
    "{{ '{x.__class__}'.format_map(d) }}",
    "{{ '{0.__class__}'|attr('format')(name) }}",
    "{{ ns }}{% set ns = namespace(x=1) %}{{ ns.x.__class__ }}",
    "{{ '%s'|format(name.__class__) }}",
    "{{ name.__class__ }}",
    "{{ items.append(1) }}",
    "{{ d.update(a=2) }}",
    "{{ d.pop('a') }}",
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% debug %}",
]

BOMBS = [  # size and time
    "{{ 'a' * 1000000000 }}",
    "{{ [1] * 1000000000 }}",
    "{{ 10 ** 100000000 }}",
    "{{ 'x' * 100000 * 100000 }}",
    "{% for i in range(1000000000) %}{% endfor %}",
    "{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}",
    "{% for a in range(9999) %}{% for b in range(9999) %}x{% endfor %}{% endfor %}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}",
    "{% set a = 'xxxxxxxxxx' %}" + "{% set a = a ~ a %}" * 40 + "{{ a|length }}",
    "{% set a = ['xxxxxxxxxx'] %}" + "{% set a = a + a %}" * 40 + "{{ a|length }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ 'x'|indent(1000000000) }}",
    "{{ 'x'|wordwrap(1000000000) }}",
    "{{ [1, 2]|slice(1000000000)|list }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ 'x'.zfill(1000000000) }}",
    "{{ '%*s' % (1000000000, 'x') }}",
    "{{ '%1000000000s' % 'x' }}",
    "{{ '%1000000000s'|format('x') }}",
    "{{ '{:>1000000000}'.format('x') }}",
    "{{ '{:{w}}'.format('x', w=1000000000) }}",
    "{{ ('x' * 10000)|replace('', 'y' * 1000) }}",
    "{{ ('x' * 10000).replace('', 'y' * 1000) }}",
    "{% set a = ['x' * 50000] %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}"
    "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{{ c }}",
    "{% set a = ['x' * 50000] %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}"
    "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{{ c|join }}",
    "{% set big %}{% for i in range(10000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}{{ big }}",
    "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    "{{ range(10) | map('string') | join * 100000 }}",
]


@pytest.mark.parametrize("payload", ESCAPES + BOMBS)
def test_the_catalogue_is_refused_in_time(settings, payload):
    settings.NOTIFICATION_RENDER_TIMEOUT_MS = 200
    started = time.process_time()  # CPU time: a loaded machine's waits for a core are not the render's
    with pytest.raises(ValidationError) as excinfo:
        render_parts({"body": payload}, CONTEXT)
    assert time.process_time() - started < 2.0
    assert set(excinfo.value.message_dict) <= {"body", "context"}


@pytest.mark.parametrize("payload", ESCAPES + BOMBS)
def test_the_catalogue_is_refused_in_the_html_part_too(settings, payload):
    settings.NOTIFICATION_RENDER_TIMEOUT_MS = 200
    with pytest.raises(ValidationError):
        render_parts({"html_body": payload}, CONTEXT)


@pytest.mark.parametrize("name", SLOW_TEMPLATES)
def test_no_expression_holds_a_render_past_its_deadline(settings, name):
    settings.NOTIFICATION_RENDER_TIMEOUT_MS = 200
    placeholders({"body": SLOW_TEMPLATES[name]})  # compiled, as when the template is saved
    started = time.process_time()  # CPU time: a loaded machine's waits for a core are not the render's
    try:
        render_parts({"body": SLOW_TEMPLATES[name]}, CONTEXT)
    except ValidationError as err:
        assert set(err.message_dict) == {"body"}
    # The deadline plus one bounded step, with slack for a busy CI; `python -m bench.render_bound`
    # measures how far past the deadline each one runs.
    assert time.process_time() - started < 0.2 + 1.0


@pytest.mark.parametrize(("body", "refusal"), [
    ("{% set a = 7 ** 7000 %}{{ a > 1 }}", "the result of '**'"),
    ("{% set a = 7 ** 4000 %}{{ (a * a) > 1 }}", "the result of '*'"),
    ("{% set a = 7 ** 4000 %}{{ [a, a]|sum + (a * 3) ** 2 > 1 }}", "the result of '**'"),
    ("{{ (('f' * 4000)|int(base=16)) > 1 }}", "the result of |int"),
    ("{{ (1).from_bytes(('f' * 2000).encode(), 'big') > 1 }}", "the result of from_bytes()"),
])
def test_integers_are_refused_before_they_outgrow_what_python_prints(body, refusal):
    with pytest.raises(ValidationError) as excinfo:
        render_parts({"body": body}, CONTEXT)
    assert excinfo.value.message_dict == {"body": [f"Refused: {refusal} would have more than {MAX_INT_DIGITS} digits."]}


def test_integers_as_long_as_python_prints_still_compute():
    body = "{% set a = 10 ** 4299 %}{{ (a|string)|length }} {{ (a * 9 + a - a) // a }} {{ -a < 0 }} {{ 2 ** 10 }}"
    assert render_parts({"body": body}, CONTEXT).body == "4300 9 True 1024"


# Run in a child whose C stack is 512 KiB and whose recursion limit is 100,000: a render that leans on
# Python's RecursionError instead of its own bounds crashes the process there (SIGSEGV), as it did under
# Hypothesis, which raises the limit while a test runs.
_CHILD = """
import json, sys
import django
django.setup()
from django.core.exceptions import ValidationError
from templates_app.rendering import render_parts
sys.setrecursionlimit(100_000)
outcome = []
for payload in json.load(sys.stdin):
    for part in ("body", "html_body"):
        try:
            render_parts({part: payload}, {"name": "Ada", "d": {"a": 1}, "k": "__class__", "items": [1, 2], "n": 3})
            outcome.append("rendered")
        except ValidationError as err:
            outcome.append(err.messages[0])
print(json.dumps(outcome))
"""


def test_no_payload_crashes_the_process_however_high_the_recursion_limit():
    deep = ["{% if 1 %}" * 5000 + "x" + "{% endif %}" * 5000,
            "{% macro m() %}" * 5000 + "x" + "{% endmacro %}" * 5000,
            "{{ " + "[" * 5000 + "1" + "]" * 5000 + " }}",
            "{{ " + "{'a': " * 5000 + "1" + "}" * 5000 + " }}",
            "{{ " + "-" * 5000 + "1 }}",
            "{{ name" + "|upper" * 5000 + " }}"]
    recursive = [payload for payload in BOMBS if "macro" in payload]
    recursive += ["{% for x in items recursive %}{{ loop(items) }}{% endfor %}",
                  "{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}{{ m() }}{% endcall %}",
                  "{% block a %}{{ self.a() }}{% endblock %}"]

    # The shell sets the stack limit (512 KiB) and execs Python (preexec_fn is unsafe beside threads).
    child = subprocess.run(["/bin/sh", "-c", 'ulimit -s 512 && exec "$0" -c "$1"', sys.executable, _CHILD],
                           input=json.dumps(deep + recursive), text=True, capture_output=True, timeout=120,
                           cwd=Path(__file__).resolve().parents[2],
                           env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"})
    assert child.returncode == 0, child.stderr[-2000:]
    outcome = json.loads(child.stdout.splitlines()[-1])
    assert outcome[:2 * len(deep)] == [f"The template is nested too deeply (at most {MAX_NESTING} levels)."] * (
        2 * len(deep))
    assert "rendered" not in outcome


def test_a_recursive_macro_renders_a_tree_within_the_call_depth():
    tree = {"name": "root", "children": []}
    leaf = tree
    for level in range(MAX_CALL_DEPTH - 2):
        leaf["children"].append({"name": f"n{level}", "children": []})
        leaf = leaf["children"][0]
    body = ("{% macro show(node) %}{{ node.name }}{% for child in node.children %}/{{ show(child) }}{% endfor %}"
            "{% endmacro %}{{ show(tree) }}")
    assert render_parts({"body": body}, {"tree": tree}).body.count("/") == MAX_CALL_DEPTH - 2

    leaf["children"].append({"name": "deeper", "children": [{"name": "deepest", "children": []}]})
    with pytest.raises(ValidationError) as excinfo:
        render_parts({"body": body}, {"tree": tree})
    assert excinfo.value.message_dict == {
        "body": [f"Refused: calls may nest at most {MAX_CALL_DEPTH} deep (a macro calling itself?)."]}


@pytest.mark.django_db
def test_a_template_too_deep_for_the_compilers_is_refused_when_it_is_saved():
    def nested(tag: str, levels: int) -> str:
        return ("{% " + tag + " %}") * levels + "x" + ("{% end" + tag.split()[0] + " %}") * levels

    template_create(name="ifs", type="sms", subject=None, body=nested("if 1", MAX_NESTING - 5), variables=None)
    with pytest.raises(ValidationError) as excinfo:
        template_create(name="ifs_deeper", type="sms", subject=None, body=nested("if 1", MAX_NESTING), variables=None)
    assert excinfo.value.message_dict == {"body": [f"The template is nested too deeply (at most {MAX_NESTING} levels)."]}

    # CPython compiles at most 20 nested loops; found when the template is saved, not at each send.
    template_create(name="loops", type="sms", subject=None, body=nested("for i in [1]", 15), variables=None)
    with pytest.raises(ValidationError) as excinfo:
        template_create(name="loops_deeper", type="sms", subject=None, body=nested("for i in [1]", 30),
                        variables=None)
    assert excinfo.value.message_dict == {"body": ["The template cannot be compiled: too many statically nested blocks."]}


def test_ordinary_templates_still_render():
    body = ("Hi {{ name|title }}, {{ '%.2f'|format(n) }} {{ '{:>5}'.format(n) }} "
            "{% for i in items %}{{ loop.index }}:{{ i * 2 }}{{ ', ' if not loop.last else '' }}{% endfor %} "
            "{{ d.a + 1 }} {{ 'x' * 3 }} {{ range(3)|join('-') }} {{ name ~ '!' }}")
    assert render_parts({"body": body}, CONTEXT).body == "Hi Ada, 3.00     3 1:2, 2:4 2 xxx 0-1-2 Ada!"


# Limits per channel ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["email", "sms", "push"])
def test_template_context_and_rendered_sizes_are_bounded_per_channel(channel):
    limits = limits_for(channel)
    subject = "S" if channel != "sms" else None
    with pytest.raises(ValidationError) as excinfo:
        template_validate(type=channel, subject=subject, body="x" * (limits.template_bytes + 1), html_body="",
                          variables=None)
    assert "body" in excinfo.value.message_dict

    template = template_create(name=f"t_{channel}", type=channel, subject=subject, body="{{ v }}",
                               variables={"v": "x"})
    with pytest.raises(ValidationError) as excinfo:
        template_render(template=template, context={"v": "x" * limits.context_bytes})
    assert "context" in excinfo.value.message_dict

    repeat = limits.rendered_bytes // 100 + 1
    template = template_create(name=f"big_{channel}", type=channel, subject=subject,
                               body="{% for i in range(r) %}" + "y" * 100 + "{% endfor %}", variables={"r": 1})
    with pytest.raises(ValidationError) as excinfo:
        template_render(template=template, context={"r": repeat})
    assert "body" in excinfo.value.message_dict
    assert len(template_render(template=template, context={"r": repeat - 2}).body) <= limits.rendered_bytes


# The property: no render escapes or exceeds the limits -----------------------------------------

BIG = st.sampled_from([0, 1, 7, 255, 10_000, 10**6, 10**9, 2**63])
WORD = st.sampled_from(["name", "'x'", "items", "d", "n", "d.a", "(name ~ name)", "range(5)", "[name, name]"])


@st.composite
def expressions(draw, depth: int = 0) -> str:
    if depth > 3:
        return draw(WORD)
    left = draw(expressions(depth + 1)) if draw(st.booleans()) else draw(WORD)
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return f"({left} * {draw(BIG)})"
    if kind == 1:
        return f"({left} ~ {draw(expressions(depth + 1))})"
    if kind == 2:
        return f"({left} + {left})"
    if kind == 3:
        return f"({draw(BIG)} ** {draw(BIG)})"
    if kind == 4:
        name = draw(st.sampled_from(["center", "indent", "truncate", "wordwrap", "replace('', 'ab')", "join",
                                     "string", "list", "reverse", "upper", "format"]))
        argument = f"({draw(BIG)})" if name in {"center", "indent", "truncate", "wordwrap"} else ""
        return f"({left}|{name}{argument})"
    if kind == 5:
        method = draw(st.sampled_from(["ljust", "rjust", "center", "zfill"]))
        return f"('ab'.{method}({draw(BIG)}))"
    if kind == 6:
        spec = draw(st.sampled_from(["%s", "%{w}s", "%.{w}f", "{{:>{w}}}", "{{0}}{{0}}"])).format(w=draw(BIG))
        return f"('{spec}' % {left})" if spec.startswith("%") else f"('{spec}'.format({left}))"
    return f"{left}.{draw(st.sampled_from(['__class__', 'a', 'upper', 'items']))}"


@st.composite
def templates(draw) -> str:
    expression = draw(expressions())
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return "{{ " + expression + " }}"
    if shape == 1:
        return "{% for i in range(" + str(draw(BIG)) + ") %}{{ " + expression + " }}{% endfor %}"
    if shape == 2:
        return ("{% for i in range(" + str(draw(BIG)) + ") %}{% for j in range(" + str(draw(BIG)) + ") %}"
                "{{ " + expression + " }}{% endfor %}{% endfor %}")
    return ("{% macro m(k) %}{% if k < " + str(draw(BIG)) + " %}{{ " + expression + " }}{{ m(k + 1) }}"
            "{% endif %}{% endmacro %}{{ m(0) }}")


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=templates(), channel=st.sampled_from(["email", "sms", "push"]))
@override_settings(NOTIFICATION_RENDER_TIMEOUT_MS=100)
def test_no_render_escapes_or_exceeds_the_limits(body, channel):
    limits = limits_for(channel)
    # CPU time, not the wall clock: on a loaded machine a trivial render can wait seconds for a core, while a
    # render that computes past its deadline spends that time on the CPU.
    started = time.process_time()
    try:
        message = render_parts({"body": body}, CONTEXT, limits=limits)
    except ValidationError as err:
        assert set(err.message_dict) <= {"body", "context"}
    else:
        assert len(message.body.encode()) <= limits.rendered_bytes
        assert "<class" not in message.body and "<function" not in message.body
    # The deadline plus what one uninterruptible step (a bounded C call) may add, with slack for a busy CI.
    assert time.process_time() - started < limits.render_ms / 1000 + 1.0
