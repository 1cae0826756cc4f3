"""The SMS and push texts of a dispatcher round, made from their templates and contexts."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lifetide.channels.messages import OutgoingText, TextChannel
from lifetide.journeys.facts import Person
from lifetide.journeys.outbox import Claimed
from lifetide.messaging.compose import track_text
from lifetide.messaging.links import Links
from lifetide.messaging.templates import TemplateProblem, TemplateSource, render_text

log = logging.getLogger(__name__)

Texts = dict[str, list[tuple[Claimed, str, OutgoingText]]]


def make_texts(
    batch: Sequence[tuple[Claimed, Person]],
    contexts: Sequence[Mapping[str, Any]],
    templates: Mapping[str, TemplateSource],
    links: Links,
    configured: Callable[[str], bool],
) -> tuple[Texts, list[tuple[Claimed, str]]]:
    """Each send's text (links tracked) by channel, and the sends that cannot go, with why.

    `configured(channel)` says whether a provider is set up for the channel.
    """
    by_channel: Texts = defaultdict(list)
    failures: list[tuple[Claimed, str]] = []
    for (send, person), context in zip(batch, contexts, strict=True):
        template = templates.get(send.template)
        address = person.address(send.channel) or ""
        if not configured(send.channel):
            failures.append((send, f"no {send.channel} provider is configured"))
            continue
        if template is None:
            failures.append((send, f"no template named {send.template!r}"))
            continue
        channel: TextChannel = "sms" if send.channel == "sms" else "push"
        try:
            body = track_text(
                render_text(template, context),
                key=send.key,
                links=links,
                journey_id=send.journey_id,
                step=send.step,
                medium=channel,
            )
        except TemplateProblem as problem:
            failures.append((send, f"template {send.template!r}: {problem}"))
            continue
        except Exception as err:  # one odd row must not stop the rest
            log.exception("send %s: the text could not be built", send.key)
            failures.append((send, f"the message could not be built: {err}"))
            continue
        text = OutgoingText(send.key, address, body, channel, {"journey_id": send.journey_id})
        by_channel[send.channel].append((send, address, text))
    return by_channel, failures
