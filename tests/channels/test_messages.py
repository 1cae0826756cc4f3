"""Messages made ready for a transport: the fast writer against the email package's own."""

from __future__ import annotations

import datetime as dt
import io
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import SMTP, EmailPolicy

from hypothesis import example, given, settings
from hypothesis import strategies as st

from lifetide.channels.messages import flat_alternative, outgoing_email
from lifetide.messaging.compose import compose_email
from lifetide.messaging.links import Links
from lifetide.messaging.templates import RenderedEmail
from lifetide.messaging.tokens import LinkSigner
from tests.channels.conftest import make_message

LINKS = Links("https://lifetide.example.com", LinkSigner("k" * 32))


def _generated(message: EmailMessage, policy: EmailPolicy) -> bytes:
    with io.BytesIO() as out:
        BytesGenerator(out, policy=policy).flatten(message)
        return out.getvalue()


_TEXT = st.lists(
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
    | st.sampled_from(["\n", "\r\n", "\r", ".", "From "]),
    max_size=20,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    # On one line, as render_email makes every subject.
    subject=st.text(max_size=80).map(lambda s: " ".join(s.split()) or "s"),
    html=_TEXT,
    text=_TEXT,
    name=st.sampled_from(["", "Ada Lovelace", "Chloé García", 'Quote "Me"']),
    long_lines=st.booleans(),
)
@example(subject="Hi", html="<p>x</p>", text="x\n", name="", long_lines=False)
@example(subject="Ünïcode — 10%", html="é" * 600, text="a\rb", name="Chloé", long_lines=True)
def test_compose_s_messages_are_written_as_the_email_package_writes_them(
    subject: str, html: str, text: str, name: str, long_lines: bool
) -> None:
    if long_lines:
        text += "y" * 1200
    to = f"{name} <ada@example.com>" if name else "ada@example.com"
    message = compose_email(
        RenderedEmail(subject, f"<p>{html}</p>", text), key="1:s:1", to=to,
        sender="Shop <shop@lifetide.dev>", links=LINKS, profile_id=1, journey_id=7, step="s",
        date=dt.datetime(2026, 11, 2, tzinfo=dt.UTC), headers={"Reply-To": "care@lifetide.dev"},
    )  # fmt: skip
    assert isinstance(message.policy, EmailPolicy)
    for policy in (message.policy.clone(linesep="\r\n"), SMTP, SMTP.clone(cte_type="7bit")):
        fast = flat_alternative(message, policy)
        if fast is None:
            # Only 8bit data under a 7bit policy is left to the email package (to re-encode).
            assert policy.cte_type == "7bit"
            continue
        assert fast == _generated(message, policy)
    assert outgoing_email("1:s:1", "ada@example.com", message).data == _generated(
        message, message.policy.clone(linesep="\r\n")
    )


def test_any_other_shape_is_left_to_the_email_package() -> None:
    # set_content/add_alternative leave the boundary to the generator to choose.
    message = make_message("1:s:1", "a@example.com")
    assert flat_alternative(message, SMTP) is None
    single = EmailMessage()
    single["From"] = "shop@lifetide.dev"
    single.set_content("just text\n")
    assert flat_alternative(single, SMTP) is None
    item = outgoing_email("2:s:1", "a@example.com", single)
    assert item.data.endswith(b"\r\n\r\njust text\r\n")
