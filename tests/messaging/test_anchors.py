"""The anchor tokenizer finds what html.parser finds, in linear time; rewriting keeps the rest."""

from __future__ import annotations

import time
from collections.abc import Callable
from html import escape as html_escape
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifetide.messaging.anchors import anchors, rewrite_links
from lifetide.messaging.template_store import bundled_templates, sample_context
from lifetide.messaging.templates import inline_css, render_email
from tests.messaging.test_compose import HTML


class _Reference(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[list[tuple[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.found.append(attrs)

    handle_startendtag = handle_starttag


TRICKY = [
    HTML,
    '<a href="x">1</a><a  HREF = "y" >2</a><a\nhref=\'z\'\n>3</a>',
    '<a href="a&amp;b&lt;c&#39;d">x</a>',
    "<a href=bare/>self-closing</a><a/>",
    '<a title="x>y" href="after-gt">x</a>',
    '<a href="one" href="two">dup</a>',
    '<div data-html="<a href=\'no\'>"><a href="yes">y</a></div>',
    "<!--[if mso]><a href='mso-only'>x</a><![endif]--><a href='after'>a</a>",
    "<style>a{}</style><a href='s'>s</a><STYLE>.x{content:'<a href=\"no\">'}</STYLE>",
    "<abbr title='x'>abbr is not a</abbr><area href='area'><a-b href='custom'>",
    "<a href=''>empty</a><a href>bare attribute</a>",
    "<!-- a - b -- c --><a href='after-dashes'>x</a><!----><a href='after-empty'>y</a>",
    "<style>p{}</STYLE ><a href='after-upper-end'>s</a><script>if (a<b) {}</script><a href=z>",
    "<script></scriptx><a href='inside'></script><A\thref='tab'>",
    # Tags as css_inline writes them (double quotes only), and near misses of that shape.
    '<p class="x" style="a: b;"><a class="y" href="plain">p</a></p >',
    '<p a="1"b="2"><a href="no-space-between">x</a><td a="<a href=\'in\'>">',
    "<p a=\"1\" b='<a href=\"single\">'><a href='after-single'>",
    '<p "q"="r" s"t="u"><a href="after-quote-names">',
    '<p =x="y"><a href="after-equals-name"></p class="z"><a href="after-end-attrs">',
    '</td ><a href="end-space"></td\n><a href="end-newline"><br/><a href="after-br">',
    '<p\ta="1"\n b="2"\t><a href=tabs>',
    '<p a="1" b><a href="after-bare">',
]


@pytest.mark.parametrize("source", TRICKY)
def test_anchors_are_found_exactly_as_htmlparser_finds_them(source: str) -> None:
    reference = _Reference()
    reference.feed(source)
    reference.close()
    assert [attrs for _, _, attrs in anchors(source)] == reference.found


@pytest.mark.parametrize("name", sorted(bundled_templates()))
def test_anchors_in_bundled_templates_match_htmlparser(name: str) -> None:
    t = bundled_templates()[name]
    if t.channel != "email":
        return
    html = render_email(t, sample_context()).html
    reference = _Reference()
    reference.feed(html)
    assert [attrs for _, _, attrs in anchors(html)] == reference.found
    assert len(reference.found) >= 3


def test_rewriting_changes_only_anchor_tags() -> None:
    source = (
        '<p class="a">x</p><a id="k" href="https://a.example/">l</a><img src="https://a.example/">'
    )
    out = rewrite_links(source, lambda href: href + "?t=1")
    assert out == (
        '<p class="a">x</p><a id="k" href="https://a.example/?t=1">l</a><img src="https://a.example/">'
    )
    assert rewrite_links(source, lambda href: None) == source


PATHOLOGICAL = [
    "<a " * 50_000,
    "<a x=" * 50_000,
    "</a" * 50_000,
    "<!" * 50_000,
    "<script" * 50_000,
    "<a " + 'x="y" ' * 50_000,
    "<a x='y'<b " * 50_000,
    "<style x=" * 50_000,
    # Tags the double-quotes-only rule starts on and gives up (the general one ends them).
    '<p x="y"z ' * 50_000,
    "<p " + 'x="y" ' * 50_000,
    '</p x="y" ' * 50_000,
]


@pytest.mark.parametrize("source", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_scanning_stays_linear_on_malformed_html(source: str) -> None:
    started = time.process_time()
    anchors(source)
    assert time.process_time() - started < 2


_PIECES = st.sampled_from(
    [
        "text", " & ", "<", ">", "'", '"', "=", "<p>", "</p>", "<br/>", "<!-- note -->",
        "<!-- <a href='c'> -->", "<script>var s = '<a href=\"x\">';</script>",
        "<style>a[href] { color: red }</style>", "<textarea><a href='t'></textarea>",
        '<img src="https://i.example/1.png" alt="<a href=\'i\'>">', "</a>", "<a>",
        '<a href="https://a.example/?q=1&amp;r=2">', "<a href=https://b.example/x>",
        "<A HREF='https://c.example/'>", '<a title="x > y" href="https://d.example/">',
        "<a href='mailto:m@example.com'>", '<a\nhref="https://e.example/"\n>',
        '<div data-x="<a href=\'no\'>">', "<a href>", '<a href="" data-flag>',
        '<p a="1"b="2">', '<td class="k" style="x: \'y\'">', '</p class="z">', "<p =x>",
        '<a class="c" href="https://f.example/?a=1&amp;b=&quot;2&quot;" style="color: blue">',
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=25))
def test_anchors_in_inlined_html_match_htmlparser(pieces: list[str]) -> None:
    # compose_email scans css_inline's output: well-formed HTML, whatever went in.
    html = inline_css("<html><body>" + "".join(pieces) + "</body></html>")
    reference = _Reference()
    reference.feed(html)
    reference.close()
    assert [attrs for _, _, attrs in anchors(html)] == reference.found


def _rebuilt_from_anchors(source: str, rewrite: Callable[[str], str | None]) -> str:
    # rewrite_links as it was: every anchor's attributes parsed, then the tag rebuilt.
    pieces, cursor = [], 0
    for start, end, attrs in anchors(source):
        href = next((value for name, value in attrs if name == "href"), None)
        target = rewrite(href) if href is not None else None
        if target is None:
            continue
        kept: list[tuple[str, str | None]] = []
        for name, value in attrs:
            if name == "href":
                if any(n == "href" for n, _ in kept):
                    continue
                value = target
            kept.append((name, value))
        rebuilt = "".join(
            f" {name}" if value is None else f' {name}="{html_escape(value, quote=True)}"'
            for name, value in kept
        )
        pieces += [source[cursor:start], f"<a{rebuilt}>"]
        cursor = end
    return "".join([*pieces, source[cursor:]]) if pieces else source


def _tracked(href: str) -> str | None:
    return f'https://t.example/?u={href}&x="1"' if href.startswith("https://") else None


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=25), st.booleans())
def test_rewritten_tags_are_built_from_their_parsed_attributes(
    pieces: list[str], inlined: bool
) -> None:
    source = "<html><body>" + "".join(pieces) + "</body></html>"
    if inlined:
        source = inline_css(source)
    assert rewrite_links(source, _tracked) == _rebuilt_from_anchors(source, _tracked)


@pytest.mark.parametrize("source", TRICKY)
def test_rewritten_tricky_tags_are_built_from_their_parsed_attributes(source: str) -> None:
    rewrite = lambda href: f"T{href}" if href else None  # noqa: E731
    assert rewrite_links(source, rewrite) == _rebuilt_from_anchors(source, rewrite)
