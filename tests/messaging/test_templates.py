"""The template sandbox: rendering, filters, errors with lines, and escapes that must fail."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import pytest

from lifetide.messaging.sandbox import date, money
from lifetide.messaging.template_store import sample_context
from lifetide.messaging.templates import (
    TemplateProblem,
    TemplateSpec,
    check_template,
    render_email,
    render_text,
    render_title,
)


def _text(body: str, context: dict[str, Any] | None = None) -> str:
    return render_text(TemplateSpec("t", "sms", None, body), context or {})


def _html(body: str, context: dict[str, Any] | None = None) -> str:
    return render_email(TemplateSpec("t", "email", "s", body), context or {}).html


def test_an_email_renders_subject_html_and_text() -> None:
    spec = TemplateSpec(
        "t",
        "email",
        "Hi {{ customer.first_name }},\n  your   cart",
        "<p>{{ customer.first_name }} {{ cart.total|money }}</p>",
        "Hello {{ customer.first_name }}\n",
    )
    rendered = render_email(spec, sample_context())
    assert rendered.subject == "Hi Ada, your cart"
    assert rendered.html == "<p>Ada $75.00</p>"
    assert rendered.text == "Hello Ada"


def test_html_is_escaped_and_subject_and_text_are_not() -> None:
    context = {"customer": {"first_name": "<b>Ada & Bo</b>"}}
    spec = TemplateSpec(
        "t",
        "email",
        "{{ customer.first_name }}",
        "<p>{{ customer.first_name }}</p>",
        "{{ customer.first_name }}",
    )
    rendered = render_email(spec, context)
    assert rendered.html == "<p>&lt;b&gt;Ada &amp; Bo&lt;/b&gt;</p>"
    assert rendered.subject == "<b>Ada & Bo</b>"
    assert rendered.text == "<b>Ada & Bo</b>"


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("[{{ nobody }}]", {}, "[]"),
        ("[{{ customer.first_name.upper }}]", {}, "[]"),
        ("[{{ cart.items[0].name }}]", {}, "[]"),
        ('{{ customer.first_name|default("there") }}', {}, "there"),
        ('{{ customer.first_name|default("there") }}', {"customer": {}}, "there"),
        ('{{ customer.first_name|default("there") }}', {"customer": {"first_name": None}}, "there"),
        ('{{ customer.first_name|default("there") }}', {"customer": {"first_name": ""}}, "there"),
        ('{{ customer.first_name|d("there") }}', {"customer": {"first_name": "Ada"}}, "Ada"),
        ("[{{ customer.first_name }}]", {"customer": {"first_name": None}}, "[]"),
        ("{% if offer.value > 10 %}big{% else %}small{% endif %}", {"offer": None}, "small"),
        ("[{{ cart.total * 2 }}]", {}, "[]"),
        ("{% for i in cart.items %}x{% endfor %}.", {}, "."),
        # Dict keys win over dict methods: cart.items is the cart's items.
        ("{% for i in cart.items %}{{ i }}{% endfor %}", {"cart": {"items": [1, 2]}}, "12"),
        ("{{ cart.keys }}", {"cart": {"keys": "k"}}, "k"),
        ("{% for i in cart.items %}{{ i }}{% endfor %}.", {"cart": {}}, "."),
        (
            "{% for k, v in t|items %}{{ k }}={{ v }};{% endfor %}",
            {"t": {"a": 1, "b": 2}},
            "a=1;b=2;",
        ),
        ("{{ t.get('a') }}{{ t.get('z', 0) }}", {"t": {"a": 1}}, "10"),
    ],
)
def test_missing_values_render_as_nothing(
    source: str, context: dict[str, Any], expected: str
) -> None:
    assert _text(source, context) == expected


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        (Decimal("1234.5"), (), "$1,234.50"),
        (19.999, (), "$20.00"),
        (0.005, (), "$0.01"),
        (-5, (), "-$5.00"),
        ("12", ("€",), "€12.00"),
        (None, (), ""),
        ("", (), ""),
    ],
)
def test_money(value: Any, args: tuple[str, ...], expected: str) -> None:
    assert money(value, *args) == expected


def test_money_refuses_what_is_not_a_number() -> None:
    with pytest.raises(TemplateProblem, match="money needs a number"):
        _text("{{ 'abc'|money }}")


@pytest.mark.parametrize(
    "text", ["0", "-0", "0.005", "-0.005", "2.675", "1E+3", "12.3456", "-1234567.891", "1E-9"]
)
def test_money_reads_a_decimal_as_its_text(text: str) -> None:
    # A Decimal is quantized as it is, not through str(): the same amount either way.
    assert money(Decimal(text)) == money(text)
    assert money(Decimal(text), "€") == money(text, "€")


@pytest.mark.parametrize("text", ["sNaN", "1E+40"])
def test_money_refuses_a_decimal_it_cannot_round(text: str) -> None:
    with pytest.raises(ValueError, match="money needs a number"):
        money(Decimal(text))
    with pytest.raises(ValueError, match="money needs a number"):
        money(text)


def test_dates_read_well_and_follow_the_customers_time_zone() -> None:
    moment = dt.datetime(2026, 11, 5, 3, 30, tzinfo=dt.UTC)
    assert date(moment) == "November 5, 2026"
    assert date(dt.date(2026, 1, 9)) == "January 9, 2026"
    assert date("2026-11-05T03:30:00+00:00", "%Y-%m-%d %H:%M") == "2026-11-05 03:30"
    assert date(moment, "%Y-%m-%d %H:%M", "America/New_York") == "2026-11-04 22:30"
    # A profile's unknown zone must not fail a send: UTC it is.
    assert date(moment, "%H:%M", "Mars/Olympus") == "03:30"
    assert date(None) == ""
    context = {"offer": {"expires_at": moment}, "customer": {"time_zone": "Asia/Tokyo"}}
    assert _text("{{ offer.expires_at|date('%b %d %H:%M', customer.time_zone) }}", context) == (
        "Nov 05 12:30"
    )


def test_a_syntax_error_names_the_field_and_line() -> None:
    with pytest.raises(TemplateProblem) as caught:
        check_template("email", "Hello", "<p>\nline two\n{{ customer.first_name ~ }}</p>", None)
    assert (caught.value.field, caught.value.line) == ("body", 3)
    assert str(caught.value).startswith("body, line 3: ")
    with pytest.raises(TemplateProblem) as caught:
        check_template("email", "Hi {% if %}", "<p>x</p>", None)
    assert (caught.value.field, caught.value.line) == ("subject", 1)
    with pytest.raises(TemplateProblem) as caught:
        check_template("email", "Hi", "<p>x</p>", "one\n{% for x in y %}")
    assert caught.value.field == "text_body"


@pytest.mark.parametrize(
    ("channel", "subject", "body", "text_body", "field", "says"),
    [
        ("fax", "s", "b", None, "channel", "must be one of email, sms, push"),
        ("email", "  ", "b", None, "subject", "needs a subject"),
        ("email", "s", " \n", None, "body", "empty"),
        ("sms", None, "b", "t", "text_body", "only e-mail"),
        ("sms", None, "{{ x|no_such_filter }}", None, "body", "No filter named 'no_such_filter'"),
        (
            "sms",
            None,
            "line\n{% include 'other' %}",
            None,
            "body",
            "{% include %} is not supported",
        ),
        ("sms", None, "{% extends 'base' %}", None, "body", "{% extends %} is not supported"),
        ("sms", None, "{% import 'm' as m %}", None, "body", "{% import %} is not supported"),
        ("sms", None, "{{ 1 / 0 }}", None, "body", "ZeroDivisionError"),
    ],
)
def test_check_template_says_what_is_wrong(
    channel: str, subject: str | None, body: str, text_body: str | None, field: str, says: str
) -> None:
    with pytest.raises(TemplateProblem, match=f"^{field}") as caught:
        check_template(channel, subject, body, text_body)
    assert caught.value.field == field
    assert says in caught.value.message


def test_a_good_template_passes_the_check() -> None:
    check_template("email", "Hi {{ customer.first_name }}", "<p>{{ cart.total|money }}</p>", None)
    check_template(
        "push", "Your cart", "Come back, {{ customer.first_name|default('friend') }}", None
    )


def test_the_check_can_render_against_sample_contexts() -> None:
    body = "{{ offer.value / 0 }}"
    check_template("sms", None, body, None)  # no offer: nothing to divide
    with pytest.raises(TemplateProblem, match="division by zero"):
        check_template("sms", None, body, None, samples=({}, sample_context()))


def test_render_errors_at_send_time_are_template_problems_with_a_line() -> None:
    spec = TemplateSpec("t", "email", "s", "<p>\n{{ cart.total / cart.count }}\n</p>")
    with pytest.raises(TemplateProblem) as caught:
        render_email(spec, {"cart": {"total": 3, "count": 0}})
    assert (caught.value.field, caught.value.line) == ("body", 2)
    assert "division by zero" in caught.value.message


def test_push_titles_are_one_line() -> None:
    spec = TemplateSpec("t", "push", "Hi\n{{ customer.first_name }}", "Body")
    assert render_title(spec, {"customer": {"first_name": "Ada"}}) == "Hi Ada"
    assert render_text(spec, {}) == "Body"


def test_an_edited_template_is_never_served_stale() -> None:
    assert _text("one {{ x }}", {"x": 1}) == "one 1"
    assert _text("two {{ x }}", {"x": 1}) == "two 1"


# Escapes: each must fail with a clear error, never render Python internals.
ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__['os'] }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ customer.__class__.__base__.__subclasses__() }}",
    "{{ customer.traits.__class__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__dict__ }}",
    "{{ range.__self__ }}",
    "{{ 'a'|attr('__class__') }}",
    "{{ customer|map(attribute='__class__')|list }}",
    "{{ customer['__class__'] }}",
    "{% set x = customer.update({'first_name': 'Eve'}) %}{{ x }}",
    "{{ customer.traits.clear() }}",
    "{{ cart.items.append(1) }}",
    "{{ cart.items.pop() }}",
    "{% set x = customer %}{% set x.first_name = 'Eve' %}",
    "{{ '{0.__class__}'.format(customer) }}",
    "{{ lipsum(1000000) }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_fail_with_a_clear_error(source: str) -> None:
    context = sample_context()
    with pytest.raises(TemplateProblem) as caught:
        _text(source, context)
    message = caught.value.message
    assert message
    assert "<class" not in message and "<function" not in message and "module" not in message
    # Nothing was changed by the attempt.
    assert context["customer"]["first_name"] == "Ada"
    assert len(context["cart"]["items"]) == 2


def test_names_that_do_not_exist_render_nothing() -> None:
    assert _text("[{{ config }}][{{ request }}][{{ os }}][{{ __builtins__ }}]") == "[][][][]"


# Bombs: each ends quickly with an error, not a hung worker or an exhausted memory.
BOMBS = [
    ("{{ 'a' * 100000000 }}", "repeating text"),
    ("{{ 100000000 * 'a' }}", "repeating text"),
    ("{{ [1, 2] * 100000000 }}", "repeating a list"),
    ("{{ range(100000000)|list }}", "Range too big"),
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "work"),
    ("{% set a = 'x' * 90000 %}{{ a ~ a }}", "joining text"),
    ("{% set a = 'x' * 90000 %}{{ a + a }}", "joining text"),
    (
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}",
        "joining text",
    ),
    (
        "{% set ns = namespace(n=3) %}{% for i in range(60) %}{% set ns.n = ns.n * ns.n %}"
        "{% endfor %}",
        "too large",
    ),
    ("{{ 10 ** 100000 }}", "too large"),
    ("{{ '%0100000000d' % 1 }}", "formatting with %"),
    ("{{ '{:>1000000000}'.format(1) }}", "str.format"),
    ("{{ 'x'.ljust(1000000000) }}", "'ljust' of a str"),
    ("{{ 'x'.center(1000000000) }}", "'center' of a str"),
    ("{{ 'x'|center(1000000000) }}", "No filter named 'center'"),
    ("{{ 'x'|indent(1000000000) }}", "No filter named 'indent'"),
    ("{{ range(100000)|map('string')|join('x' * 50000) }}", "join"),
    ("{{ (range(100000)|map('string')|list).__len__() }}", "__len__"),
    ("{{ ('x' * 50000).replace('', 'y' * 100) }}", "replace"),
    ("{{ ('x' * 50000)|replace('', 'y' * 100) }}", "replace"),
    ("{{ ('x ' * 40000)|wordwrap(1, wrapstring='y' * 1000) }}", "wordwrap"),
    ("{{ [1]|batch(1000000000, 'x')|list }}", "batch needs a count"),
    ("{{ [1]|slice(1000000000, 'x')|list }}", "No filter named 'slice'"),
    ("{{ [[1], [2]]|sum(start=[]) }}", "sum adds numbers only"),
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "too much work"),
    (
        "{% macro f(n) %}{% if n < 60 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}"
        "{{ f(1) }}",
        "too much work",
    ),
    ("{{ range(100000)|map('replace', '0', 'y' * 5000)|list|length }}", "too much work"),
    ("{% for i in range(100000) %}{{ 'y' * 20 }}{% endfor %}", "over 1,000,000 characters"),
]


@pytest.mark.parametrize(("source", "says"), BOMBS)
def test_resource_bombs_end_with_a_clear_error(source: str, says: str) -> None:
    started = time.process_time()
    with pytest.raises(TemplateProblem) as caught:
        _text(source, sample_context())
    assert says in caught.value.message
    assert time.process_time() - started < 5


def test_what_filters_make_spends_the_budget() -> None:
    # 400 loop turns and 800 filter calls are little; 400 x 90,000 characters are not.
    context = {"big": "x" * 90_000}
    source = "{% for i in range(400) %}{{ big|lower|length }}{% endfor %}"
    with pytest.raises(TemplateProblem, match="too much work"):
        _text(source, context)
    assert _text(source.replace("400", "100"), context) == "90000" * 100


def test_ordinary_templates_stay_well_within_the_budget() -> None:
    # Generous real-world use: loops over ranges and items, filters, macros, concatenation.
    source = (
        "{% macro card(p) %}<td>{{ p.name|title }} {{ p.price|money }}</td>{% endmacro %}"
        "{% for i in range(200) %}{% for p in recommendations %}{{ card(p) }}{% endfor %}"
        "{{ ('-' * 40) ~ i }}{% endfor %}"
    )
    html = _html(source, sample_context())
    assert html.count("<td>") == 400
    assert "Lumen Night Cream $42.00" in html
