"""Message templates marketers write: Jinja2 in a sandbox that cannot reach Python internals.

A template is trusted to shape a message, never to run code or exhaust the worker. Three lines
of defence keep it so:
- `ImmutableSandboxedEnvironment`: no `_` attributes, no mutating dicts or lists, no unsafe
  callables; touching one raises at once (never renders quietly as empty);
- every operation that can multiply its input (`*`, `**`, `%`, `+`, `~`, `join`, `replace`,
  padding filters, `range`) is capped, and string `%` formatting and `str.format` are refused;
- a work budget per render: loop iterations, calls, filter calls and characters produced all
  spend it, so nested loops or recursive macros end with a clear error instead of hanging.

Undefined values render as nothing, chain (`{{ cart.items.0.name }}` on a missing cart is
empty) and compare as false; `default` also stands in for None and "". HTML bodies are
autoescaped; subjects and text bodies are not.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import css_inline
from jinja2 import (
    TemplateSyntaxError,
    nodes,
)
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateError

from lifetide.messaging.sandbox import BUDGET, HTML_ENV, MAX_OUTPUT, TEXT_ENV, WORK_BUDGET, Budget

Field = Literal["name", "channel", "subject", "body", "text_body"]
CHANNELS = ("email", "sms", "push")

_FORBIDDEN_TAGS: dict[type[nodes.Node], str] = {
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}


# The e-mail's stylesheet is inlined by css_inline when it is composed (and checked on saving).
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


class TemplateProblem(ValueError):
    """A template that cannot be used: which field, which line (when known), and why."""

    def __init__(self, field: Field, line: int | None, message: str) -> None:
        self.field = field
        self.line = line
        self.message = message
        where = f"{field}, line {line}" if line is not None else field
        super().__init__(f"{where}: {message}")


class TemplateSource(Protocol):
    """What rendering needs of a template; `MessageTemplate` rows and `TemplateSpec` have it."""

    @property
    def name(self) -> str:
        """The template's name."""
        ...

    @property
    def channel(self) -> str:
        """email, sms or push."""
        ...

    @property
    def subject(self) -> str | None:
        """Subject line (e-mail) or title (push)."""
        ...

    @property
    def body(self) -> str:
        """HTML (e-mail) or text (sms, push)."""
        ...

    @property
    def text_body(self) -> str | None:
        """The e-mail's plain-text part; empty: drawn from the HTML."""
        ...


@dataclass(frozen=True)
class TemplateSpec:
    """A template not (yet) stored: for previews, checks and tests."""

    name: str
    channel: str
    subject: str | None
    body: str
    text_body: str | None = None


@dataclass(frozen=True)
class RenderedEmail:
    """An e-mail's rendered subject, HTML and plain text (empty: derive it from the HTML)."""

    subject: str
    html: str
    text: str


def _check_tags(field: Field, tree: nodes.Template) -> None:
    for node_type, tag in _FORBIDDEN_TAGS.items():
        for node in tree.find_all(node_type):
            raise TemplateProblem(field, node.lineno, f"{{% {tag} %}} is not supported")


@functools.lru_cache(maxsize=512)
def _compiled(html: bool, field: Field, source: str) -> Template:
    """The compiled template for `source`; keyed by the text, so an edit is never stale."""
    env = HTML_ENV if html else TEXT_ENV
    try:
        tree = env.parse(source)
        _check_tags(field, tree)
        code = env.compile(tree, name=field, filename=f"<{field}>")
    except TemplateSyntaxError as err:
        raise TemplateProblem(field, err.lineno, err.message or "syntax error") from None
    return env.template_class.from_code(env, code, env.make_globals(None))


def _render(html: bool, field: Field, source: str, context: Mapping[str, Any]) -> str:
    template = _compiled(html, field, source)
    token = BUDGET.set(Budget(WORK_BUDGET))
    try:
        chunks: list[str] = []
        size = 0
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise SecurityError(f"the {field} is over {MAX_OUTPUT:,} characters")
            chunks.append(chunk)
        return "".join(chunks)
    except TemplateProblem:
        raise
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as err:
        raise TemplateProblem(field, _template_line(err, field), _reason(err)) from None
    except (RecursionError, MemoryError) as err:
        raise TemplateProblem(field, None, f"the template does too much work ({err})") from None
    finally:
        BUDGET.reset(token)


def _reason(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text if isinstance(err, TemplateError) else f"{type(err).__name__}: {text}"


def _template_line(err: BaseException, field: Field) -> int | None:
    line: int | None = None
    trace = err.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == f"<{field}>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return getattr(err, "lineno", None) or line


def render_email(t: TemplateSource, context: Mapping[str, Any]) -> RenderedEmail:
    """Subject (one line), HTML body (autoescaped) and text part of an e-mail template."""
    subject = _render(False, "subject", t.subject or "", context)
    html = _render(True, "body", t.body, context)
    text = _render(False, "text_body", t.text_body, context) if t.text_body else ""
    return RenderedEmail(" ".join(subject.split()), html, text.strip())


def render_text(t: TemplateSource, context: Mapping[str, Any]) -> str:
    """The body of an SMS or push template, trimmed."""
    return _render(False, "body", t.body, context).strip()


def render_title(t: TemplateSource, context: Mapping[str, Any]) -> str:
    """A push template's title (its subject), on one line; empty without one."""
    return " ".join(_render(False, "subject", t.subject or "", context).split())


def inline_css(source: str) -> str:
    """`source` with its stylesheet inlined; `TemplateProblem` (body) when css_inline cannot.

    css_inline gives up on some input (a rule meeting an element whose own `style` it cannot
    parse, say) with no more than "End of input": the problem is the template's, so say so.
    """
    try:
        return _INLINER.inline(source)
    except css_inline.InlineError as err:
        raise TemplateProblem(
            "body", None, f"its CSS cannot be inlined ({err}): check the style attributes and rules"
        ) from None


def check_template(
    channel: str,
    subject: str | None,
    body: str,
    text_body: str | None,
    samples: Sequence[Mapping[str, Any]] = ({},),
) -> None:
    """Raise `TemplateProblem` for the first thing wrong with a template, else return.

    Checks the channel, required fields, syntax (with line numbers) and tags that are not
    supported, then renders against each of `samples` (an e-mail's CSS inlined too) to catch
    errors at run time.
    """
    if channel not in CHANNELS:
        raise TemplateProblem("channel", None, f"must be one of {', '.join(CHANNELS)}")
    if channel == "email" and not (subject or "").strip():
        raise TemplateProblem("subject", None, "an e-mail needs a subject")
    if not body.strip():
        raise TemplateProblem("body", None, "the body is empty")
    if channel != "email" and text_body:
        raise TemplateProblem("text_body", None, "only e-mail templates have a text part")
    spec = TemplateSpec("check", channel, subject, body, text_body)
    for context in samples:
        if channel == "email":
            # Sending inlines the CSS too: CSS css_inline refuses fails here, not at every send.
            inline_css(render_email(spec, context).html)
        else:
            render_title(spec, context)
            render_text(spec, context)
