"""Anchor tags in an e-mail's HTML: found without a full parser, and their links rewritten (pure).

Click tracking rewrites each `<a href>` in css_inline's output. A full HTML parser
(html.parser) took 0.7 ms an e-mail to find them; the tokenizer here finds the same anchors
(tests hold it to html.parser's answers) in linear time on any input, and only the anchor
tags themselves are rebuilt.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

# An HTML tokenizer just deep enough to find anchor start tags and nothing inside anything
# else, following the HTML5 tokenizer's rules for where a tag, comment or raw-text element
# (<style>, <script>, ...) ends: a ">" or "<a" inside a quoted attribute value, a comment or a
# <style> block stays inside it. html.parser finds the same anchors in css_inline's output
# (tests hold it to that) but took 0.7 ms per e-mail, a fifth of what 300 a second allows.
# Once a construct has begun it always ends, at its close or at the end of the text (as in a
# browser), so no "<" is ever scanned twice: linear time on any input.
#
# One match skips everything up to the next anchor and takes the anchor: the regex engine,
# not a Python loop, walks the other 90% of the tags. The skipping is possessive (`*+`), so
# a failed search ends at once instead of backtracking. No re.IGNORECASE (it makes every
# character class fold case: a third of the scan), letters are spelled in both cases; the
# raw-text elements are spelled out, as a backreference inside the repeat trips a bug of
# CPython 3.11's re ("The span of capturing group is wrong"); their text and comments are
# run over a "<" or "-" at a time, not by a lazy `.*?` that tries the end at every character.
# End tags, half the tags, are tried first: each alternative begins with its own characters,
# so the order changes nothing but how many are tried. A tag's name never gives characters
# back (`*+`): the attribute rule after it always reaches its ">" or the end of the text.


def _either_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


_NAME = r"""[^\s/>][^\s/>=]*+"""
_VALUE = r"""(?:"[^"]*(?:"|\Z)|'[^']*(?:'|\Z)|[^\s>]*)"""
_ATTRS = rf"""(?:[\s/]+|{_NAME}(?:\s*=\s*{_VALUE})?)*+"""
_RAW = ("script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes")
_RAW_ELEMENTS = "|".join(
    rf"{_either_case(name)}(?=[\s/>]|\Z){_ATTRS}"
    rf"(?:>[^<]*+(?:<(?!/{_either_case(name)}(?=[\s/>]))[^<]*+)*+"
    rf"(?:</{_either_case(name)}{_ATTRS}(?:>|\Z)|\Z)|\Z)"
    for name in _RAW
)
_A = r"[aA](?=[\s/>]|\Z)"
# Tags as css_inline writes them (every value in double quotes) end where this says, at the
# ">" the general rule would find; it is tried first as it is cheaper. With the end tags
# first, scanning a cart e-mail went from 0.12 to 0.08 ms.
_PLAIN_ATTRS = r"""(?:\s++[^\s/>="']++="[^"]*+")*+\s*+"""
_TO_NEXT_ANCHOR = re.compile(
    rf"""
    (?:
      [^<]+
    | <(?:
        !--(?:-?>|[^-]*+(?:-(?!-!?>)[^-]*+)*+(?:--!?>|\Z))             # comment
      | [!?][^>]*(?:>|\Z)                                              # doctype, bogus comment
      | /(?:[a-zA-Z][^\s/>]*+(?:>|{_ATTRS}(?:>|\Z))|>|[^a-zA-Z>][^>]*(?:>|\Z))  # end tag
      | {_RAW_ELEMENTS}                                                 # raw text element
      | (?!{_A})[a-zA-Z][^\s/>]*+(?:{_PLAIN_ATTRS}>|{_ATTRS}(?:>|\Z))  # other start tag
      )
    | <(?!{_A})                                                         # "<" as text
    )*+
    (?P<anchor><{_A}(?P<attrs>{_ATTRS})(?P<closed>>)?)
    """,
    re.DOTALL | re.VERBOSE,
)
# (name, "=..." or "" for a bare attribute, raw value): findall's tuples, no match objects.
_ATTRIBUTE = re.compile(rf"({_NAME})(\s*=\s*({_VALUE}))?")


def _anchor_tags(source: str) -> Iterator[tuple[int, int, list[tuple[str, str, str]]]]:
    """Each complete `<a>` start tag in `source`: start, end and raw attributes."""
    match = _TO_NEXT_ANCHOR.match
    at, end = 0, len(source)
    while at < end and (token := match(source, at)) is not None:
        at = token.end()
        # A tag the text ends inside is no tag (HTML5 drops it).
        if token.group("closed") is not None:
            yield token.start("anchor"), at, _ATTRIBUTE.findall(token.group("attrs"))


def _value(raw: str) -> str:
    """An attribute's value as written (quoted or not), unquoted and unescaped."""
    quote = raw[:1]
    if quote == '"' or quote == "'":
        raw = raw[1:-1] if len(raw) > 1 and raw[-1] == quote else raw[1:]
    return html.unescape(raw) if "&" in raw else raw


def anchors(source: str) -> list[tuple[int, int, list[tuple[str, str | None]]]]:
    """Each `<a>` start tag in `source`: start, end and attributes, in document order.

    Attribute names are lower-cased, values unquoted and unescaped (as HTMLParser gives them).
    """
    return [
        (
            start,
            end,
            [(name.lower(), _value(raw) if equals else None) for name, equals, raw in attrs],
        )
        for start, end, attrs in _anchor_tags(source)
    ]


def rewrite_links(source: str, rewrite: Callable[[str], str | None]) -> str:
    """`source` with each `<a href>` replaced by `rewrite(href)` (None: leave the tag alone).

    Only the anchor tags themselves are rebuilt, from their parsed attributes; everything
    else, other tags' attributes and `<style>` included, is copied unchanged.
    """
    pieces: list[str] = []
    cursor = 0
    for start, end, attrs in _anchor_tags(source):
        # The first href counts (as in browsers); the other attributes are read only for a
        # tag that is rebuilt.
        target = None
        for name, equals, raw in attrs:
            if name.lower() == "href":
                if equals:
                    target = rewrite(_value(raw))
                break
        if target is None:
            continue
        rebuilt = ["<a"]
        seen_href = False
        for name, equals, raw in attrs:
            name = name.lower()
            if name == "href":
                if seen_href:
                    continue  # a repeated href is ignored by browsers; drop it
                seen_href = True
                rebuilt.append(f' href="{html.escape(target, quote=True)}"')
            elif equals:
                rebuilt.append(f' {name}="{html.escape(_value(raw), quote=True)}"')
            else:
                rebuilt.append(f" {name}")
        rebuilt.append(">")
        pieces.append(source[cursor:start])
        pieces.append("".join(rebuilt))
        cursor = end
    if not pieces:
        return source
    pieces.append(source[cursor:])
    return "".join(pieces)
