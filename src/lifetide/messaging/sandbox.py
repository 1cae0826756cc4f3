"""The Jinja2 sandbox message templates render in: capped operations and a work budget.

`ImmutableSandboxedEnvironment` refuses `_` attributes, mutation and unsafe callables; on top of
it every operation that can multiply its input is capped and each render spends a work budget
(loop turns, calls, filter calls, characters produced), so a template can neither reach Python
internals nor exhaust the worker. `lifetide.messaging.templates` renders with the two
environments made here (HTML autoescaped, plain text not).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    ChainableUndefined,
    Environment,
    nodes,
    pass_context,
    pass_environment,
    pass_eval_context,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.filters import do_batch, do_replace, do_wordwrap, sync_do_join, sync_do_sum
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEXT = 100_000  # characters one operation may produce
MAX_ITEMS = 1_000  # elements a list concatenation may produce
MAX_OUTPUT = 1_000_000  # characters of one rendered field
WORK_BUDGET = 500_000  # loop turns + calls + filter calls + characters/32, per render
_BUDGET_FILTER = "_lt_budgeted"
# str methods that pad or format to a caller-given width: an argument of 10**9 is 1 GB.
_STR_REFUSED = frozenset(
    {"format", "format_map", "center", "ljust", "rjust", "zfill", "expandtabs"}
)
_DICT_VIEWS = frozenset({"items", "keys", "values"})


class Budget:
    """The work one render may still do."""

    __slots__ = ("left",)

    def __init__(self, units: int) -> None:
        self.left = units


BUDGET: ContextVar[Budget | None] = ContextVar("lifetide_template_budget", default=None)


_TOO_MUCH = "the template does too much work (loops, calls or text size)"


def _spend(units: int) -> None:
    budget = BUDGET.get()
    if budget is not None:
        budget.left -= units
        if budget.left < 0:
            raise SecurityError(_TOO_MUCH)


def _cost(value: Any) -> int:
    return 1 + len(value) // 32 if isinstance(value, str) else 1


def _cap_text(size: int, what: str) -> None:
    if size > MAX_TEXT:
        raise SecurityError(f"{what} would make {size:,} characters; the limit is {MAX_TEXT:,}")


class _Lenient(ChainableUndefined):
    """Missing values: render empty, chain, compare false, and absorb arithmetic."""

    __slots__ = ()

    def _false(self, other: Any) -> bool:
        return False

    def _self(self, *args: Any) -> _Lenient:
        return self

    __lt__ = __le__ = __gt__ = __ge__ = _false  # type: ignore[assignment]
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _self  # type: ignore[assignment]
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _self  # type: ignore[assignment]
    __mod__ = __rmod__ = __pow__ = __rpow__ = __neg__ = __pos__ = _self  # type: ignore[assignment]


def _missing(value: Any) -> bool:
    return value is None or value == "" or isinstance(value, ChainableUndefined)


class _Generator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802
        # `~` is not a binop the sandbox can intercept: route it through a checked join.
        self.write("environment.lt_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("), context.eval_ctx.autoescape)")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox with capped operators, a work budget and dict keys before dict methods."""

    code_generator_class = _Generator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _BUDGET_FILTER, [], [], None, None)
            loop.iter.set_lineno(loop.lineno)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """A binary operation, refused when its result would be huge."""
        _spend(1)
        if operator == "%" and isinstance(left, str):
            raise SecurityError("text formatting with % is not allowed; join text with ~")
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_repeat(left, right)
        elif operator == "+" and isinstance(left, str | list | tuple) and type(left) is type(right):
            size = len(left) + len(right)
            if isinstance(left, str):
                _cap_text(size, "joining text")
            elif size > MAX_ITEMS:
                raise SecurityError(f"a list of {size:,} items; the limit is {MAX_ITEMS:,}")
        result = super().call_binop(context, operator, left, right)
        _spend(_cost(result))
        return result

    def lt_concat(self, parts: tuple[Any, ...], autoescape: bool) -> str:
        """`a ~ b` with a size check (called from compiled templates)."""
        result = markup_join(parts) if autoescape else str_join(parts)
        _cap_text(len(result), "joining text with ~")
        _spend(_cost(result))
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`cart.items` is the cart's items (or missing), never the dict method `items`."""
        if type(obj) is dict:
            if attribute in obj:
                return obj[attribute]
            if attribute in _DICT_VIEWS:
                # Loop over a mapping with the `items` filter: `traits|items`.
                return self.undefined(obj=obj, name=attribute)
        if attribute.startswith("_"):
            # Even where the name does not exist: probing for internals is an error.
            return self.unsafe_undefined(obj, attribute)
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Sandbox rules, plus no str method that pads or formats to a given width."""
        if isinstance(obj, str) and attr in _STR_REFUSED:
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`str.format` pads to any width it is given: refused, like `%` on text."""
        if super().wrap_str_format(value) is not None:
            raise SecurityError("str.format is not allowed; join text with ~")
        return None

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        """Reaching for something unsafe is an error at once, never a quiet empty value."""
        raise SecurityError(f"{attribute!r} of a {type(obj).__name__} is not available")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """A call from the template: budgeted, with text methods size-checked."""
        _spend(1)
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _check_str_call(owner, getattr(__obj, "__name__", ""), args)
        result = super().call(__context, __obj, *args, **kwargs)
        _spend(_cost(result))
        return result


def _check_repeat(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            if not isinstance(seq, str):
                raise SecurityError("repeating a list with * is not allowed")
            _cap_text(len(seq) * max(times, 0), "repeating text with *")
            return
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > 4096
    ):
        raise SecurityError("the number is too large")


def _check_power(left: Any, right: Any) -> None:
    if not (isinstance(left, int | float) and isinstance(right, int | float)):
        return
    if abs(right) > 64 or (abs(left) > 1 and abs(right) * math.log2(abs(left)) > 4096):
        raise SecurityError(f"{left!r} ** {right!r} is too large")


def _check_str_call(text: str, method: str, args: tuple[Any, ...]) -> None:
    if method == "replace" and len(args) >= 2 and isinstance(args[1], str):
        _cap_text(len(text) + (len(text) + 1) * len(args[1]), "replace")
    elif method == "join" and args and hasattr(args[0], "__len__"):
        _cap_text(len(text) * max(len(args[0]) - 1, 0), "join")


# Filters: the standard ones are wrapped to spend the budget; the amplifying ones are capped.
@pass_context
def _budgeted(context: Context, value: Any) -> Iterator[Any]:
    """Every loop's iterable (inserted by `_Sandbox._parse`): each turn spends one unit."""
    for item in value:
        _spend(1)
        yield item


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Any, d: str = "", attribute: Any = None) -> str:
    items, total = [], 0
    for item in value:
        items.append(item)
        total += len(d) + (len(item) if isinstance(item, str) else 16)
        _cap_text(total, "join")
    return str(sync_do_join(eval_ctx, items, d, attribute))


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: str, old: str, new: str, count: int | None = None) -> str:
    text = str(s)
    _cap_text(len(text) + (len(text) + 1) * len(str(new)), "replace")
    return str(do_replace(eval_ctx, s, old, new, count))


def _count(count: Any, what: str) -> None:
    if not isinstance(count, int) or not 0 < count <= MAX_ITEMS:
        raise SecurityError(f"{what} needs a count from 1 to {MAX_ITEMS}")


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    _count(linecount, "batch")
    return do_batch(value, linecount, fill_with)


@pass_environment
def _wordwrap(
    environment: Environment,
    s: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    _cap_text(len(str(s)) * (1 + len(wrapstring or "\n")), "wordwrap")
    return do_wordwrap(environment, s, width, break_long_words, wrapstring, break_on_hyphens)


@pass_environment
def _sum(environment: Environment, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    if not isinstance(start, int | float | Decimal):
        raise SecurityError("sum adds numbers only")
    result = sync_do_sum(environment, iterable, attribute, start)
    if not isinstance(result, int | float | Decimal):
        raise SecurityError("sum adds numbers only")
    return result


def _budget_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def spending(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        # _spend(_cost(result)) written out: a template calls filters dozens of times.
        budget = BUDGET.get()
        if budget is not None:
            budget.left -= 1 + len(result) // 32 if isinstance(result, str) else 1
            if budget.left < 0:
                raise SecurityError(_TOO_MUCH)
        return result

    return spending


_CENT = Decimal("0.01")


def money(value: Any, symbol: str = "$") -> str:
    """A price as `$1,234.50`: two decimals, thousands separated; empty for no value."""
    # Prices come as Decimal, which Decimal(str(value)) would only copy.
    is_decimal = type(value) is Decimal
    if not is_decimal and _missing(value):
        return ""
    try:
        number = value if is_decimal else Decimal(str(value))
        amount = number.quantize(_CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"money needs a number, not {value!r}") from None
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.2f}"


def date(value: Any, format: str | None = None, tz: Any = None) -> str:
    """A date or time as `November 5, 2026` (or a strftime `format`), in time zone `tz`."""
    if _missing(value):
        return ""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, dt.date):
        raise ValueError(f"date needs a date or time, not {value!r}")
    if isinstance(moment, dt.datetime) and isinstance(tz, str) and tz:
        try:
            zone = ZoneInfo(tz)
        except (ValueError, KeyError):
            zone = None  # an unknown zone in a profile must not fail the send
        if zone is not None:
            aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            moment = aware.astimezone(zone)
    if format:
        _cap_text(len(format) * 16, "date format")
        return moment.strftime(format)
    return f"{moment:%B} {moment.day}, {moment.year}"


def default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """`value`, or `default_value` when it is missing, None or "" (or false, with boolean)."""
    if _missing(value) or (boolean and not value):
        return default_value
    return value


def _environment(autoescape: bool) -> _Sandbox:
    env = _Sandbox(
        autoescape=autoescape,
        undefined=_Lenient,
        finalize=lambda value: "" if value is None else value,
        auto_reload=False,
        cache_size=0,
    )
    del env.globals["lipsum"]
    filters = dict(env.filters)
    # Dropped: no use in a message, and each pads, formats or repeats to a size it is given.
    for name in ("format", "pprint", "xmlattr", "filesizeformat", "random", "center", "indent"):
        filters.pop(name, None)
    filters.pop("slice")
    filters.update(join=_join, replace=_replace, batch=_batch, wordwrap=_wordwrap, sum=_sum)
    filters.update(money=money, date=date, default=default, d=default)
    env.filters = {name: _budget_filter(f) for name, f in filters.items()}
    env.filters[_BUDGET_FILTER] = _budgeted
    return env


HTML_ENV = _environment(autoescape=True)
TEXT_ENV = _environment(autoescape=False)
