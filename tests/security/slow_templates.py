"""Templates that try to hold a worker with work inside one expression, for the tests and `bench.render_bound`.

Each is refused (size or time) or renders; either way its render must end within the render time
limit plus one bounded step.
"""


def nested_products(levels: int, base: str = "a") -> str:
    """`((a*a)*(a*a))...`: each level doubles the operand's size, 2**levels multiplications in one line."""
    expression = base
    for _ in range(levels):
        expression = f"({expression}*{expression})"
    return expression


SLOW_TEMPLATES = {
    # The penetration test's template: 8 KB, 27.8 s before integers were bounded.
    "nested products of 7**7000": "{% set a = 7 ** 7000 %}{{ " + nested_products(11) + " > 1 }}",
    "nested products growing past the bound": "{% set a = 7 ** 1500 %}{{ " + nested_products(11) + " > 1 }}",
    "nested products of a small number": "{% set a = 7 %}{{ " + nested_products(11) + " > 1 }}",
    "a power tower": "{{ 2 ** 2 ** 2 ** 2 ** 2 > 1 }}",
    "an integer from a hex string": "{% set a = ('f' * 100000)|int(base=16) %}{{ a % 3 }}",
    "an integer from bytes": "{% set a = (1).from_bytes(('f' * 60000).encode(), 'big') %}{{ a // 7 > 1 }}",
    "division of the largest integers": "{% set a = 7 ** 5000 %}{% set b = 3 ** 8000 %}{{ ["
                                        + ", ".join(["a // b + b % a"] * 2000) + "]|length }}",
    "big-int formatting": "{% set a = 10 ** 4299 %}{{ " + " ~ ".join(["('%d' % a)[:1]", "(a|string)[:1]",
                                                                       "'{:,}'.format(a)[:1]"] * 1000) + " }}",
    "big-int formatting in a loop": "{% set a = 10 ** 4299 %}{% for i in range(10000) %}{{ ('%d' % a)[:1] }}"
                                    "{% endfor %}",
    "a long loop inside one expression": "{{ range(10000)|map('string')|map('center', 40)|join|length }}",
    "membership tests inside one expression": "{% set l = range(10000)|list %}{{ ["
                                              + ", ".join(["99999 in l"] * 3000) + "]|length }}",
    "filters chained over a long list": "{{ (range(10000)|list * 5)|select('odd')|map('string')|unique|list|length }}",
    "a macro loop called inside one expression": "{% macro f() %}{% for i in range(10000) %}{% endfor %}{% endmacro %}"
                                                 "{{ " + " ~ ".join(["f()"] * 200) + " }}",
}
