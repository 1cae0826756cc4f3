from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncGenerator
from pathlib import Path
from urllib.parse import unquote

import pytest

from lifetide.channels.files import MAX_STEM, FileTransport, file_stem
from lifetide.channels.messages import DeliveryResult, OutgoingEmail, outgoing_email
from lifetide.channels.select import email_transport, text_transport, webhook_secret
from lifetide.channels.smtp import SmtpTransport
from lifetide.channels.smtp_url import SmtpUrlError
from lifetide.channels.webhook import WebhookTransport
from lifetide.settings import Settings, load_settings
from tests.channels.conftest import make_email, make_message


def send(transport: FileTransport, batch: list[OutgoingEmail]) -> list[DeliveryResult]:
    return asyncio.run(transport.send(batch))


def test_each_message_becomes_one_eml_file(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    items = [make_email(f"{i}:send:1", f"c{i}@example.com") for i in range(3)]
    results = send(FileTransport(outbox), items)
    assert [r.outcome for r in results] == ["sent"] * 3
    assert [r.provider_message_id for r in results] == [
        f"<{i}.send.1@lifetide.dev>" for i in range(3)
    ]
    assert sorted(p.name for p in outbox.iterdir()) == [f"{i}:send:1.eml" for i in range(3)]
    parsed = email.message_from_bytes(
        (outbox / "1:send:1.eml").read_bytes(), policy=email.policy.default
    )
    assert parsed["X-Lifetide-Send"] == "1:send:1"
    assert parsed["To"] == "c1@example.com"
    assert results[1].detail == str(outbox / "1:send:1.eml")


def test_a_stream_is_written_a_message_at_a_time_each_recorded_before_the_next(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox"
    items = [make_email(f"{i}:send:1", f"c{i}@example.com") for i in range(4)]
    seen: list[tuple[int, str, int]] = []

    async def source() -> AsyncGenerator[OutgoingEmail, None]:
        for item in items:
            yield item

    async def record(index: int, result: DeliveryResult) -> None:
        # The files written so far: this message's and those before it, none after.
        seen.append((index, result.outcome, len(list(outbox.iterdir()))))

    asyncio.run(FileTransport(outbox).send_stream(source(), record))
    assert seen == [(0, "sent", 1), (1, "sent", 2), (2, "sent", 3), (3, "sent", 4)]


def test_the_same_key_replaces_its_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path)
    first = make_email("7:send:1", "a@example.com")
    changed = make_message("7:send:1", "a@example.com")
    changed.replace_header("Subject", "Second version")
    second = outgoing_email("7:send:1", "a@example.com", changed)
    send(transport, [first])
    send(transport, [second])
    assert [p.name for p in tmp_path.iterdir()] == ["7:send:1.eml"]
    assert b"Second version" in (tmp_path / "7:send:1.eml").read_bytes()


@pytest.mark.parametrize(
    "key",
    ["12:welcome:1", "../../etc/passwd", "a/b\\c", ".hidden", "x" * 400, "ünïcode:ß", "50%:off"],
)
def test_any_key_is_one_safe_file_name(key: str, tmp_path: Path) -> None:
    stem = file_stem(key)
    assert "/" not in stem
    assert not stem.startswith(".")
    assert len(stem) <= MAX_STEM
    if len(key) < 50:
        assert unquote(stem) == key
    path = FileTransport(tmp_path).path_of(key)
    assert path.parent == tmp_path
    message = make_message("1:s:1", "a@example.com")
    results = send(FileTransport(tmp_path), [outgoing_email(key, "a@example.com", message)])
    assert results[0].outcome == "sent"
    assert path.is_file()


def test_long_keys_that_share_a_prefix_get_different_files() -> None:
    assert file_stem("x" * 300 + "1") != file_stem("x" * 300 + "2")


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key cannot be empty"):
        file_stem("")


def test_a_folder_that_cannot_be_written_leaves_the_message_to_retry(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    results = send(FileTransport(blocker / "outbox"), [make_email("1:s:1", "a@example.com")])
    assert results[0].outcome == "retry"
    assert "cannot write" in (results[0].detail or "")


# Which transport the settings pick


def test_without_an_smtp_url_mail_goes_to_the_outbox(settings: Settings) -> None:
    transport = email_transport(settings)
    assert isinstance(transport, FileTransport)
    assert transport.directory == settings.data_dir / "outbox"


def test_an_smtp_url_makes_a_pool_of_the_configured_size(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, smtp_url="smtps://me:pw@mail.example.com", smtp_connections=6
    )
    transport = email_transport(settings)
    assert isinstance(transport, SmtpTransport)
    assert transport.connections == 6
    assert transport.server.port == 465
    assert transport.server.implicit_tls


def test_a_bad_smtp_url_is_a_settings_error(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, smtp_url="smtp://me:topsecret@mail:port")
    with pytest.raises(SmtpUrlError, match="port that is not a number") as raised:
        email_transport(settings)
    assert "topsecret" not in str(raised.value)


def test_text_transports_follow_the_settings(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        sms_webhook_url="https://sms.example.com/send",
        allow_private_destinations=False,
    )
    sms = text_transport(settings, "sms")
    assert isinstance(sms, WebhookTransport)
    assert (sms.url, sms.channel, sms.allow_private) == (
        "https://sms.example.com/send",
        "sms",
        False,
    )
    assert text_transport(settings, "push") is None
    with pytest.raises(ValueError, match="no text transport for channel 'email'"):
        text_transport(settings, "email")  # type: ignore[arg-type]


def test_a_private_provider_url_needs_the_setting(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/push"
    with pytest.raises(ValueError, match=r"push provider: .*LIFETIDE_ALLOW_PRIVATE_DESTINATIONS"):
        text_transport(load_settings(data_dir=tmp_path, push_webhook_url=url), "push")
    allowed = load_settings(
        data_dir=tmp_path, push_webhook_url=url, allow_private_destinations=True
    )
    assert isinstance(text_transport(allowed, "push"), WebhookTransport)


def test_provider_secrets_are_derived_not_the_secret_key(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, secret_key="k" * 40)
    sms, push = webhook_secret(settings, "sms"), webhook_secret(settings, "push")
    assert sms != push
    assert "k" * 40 not in (sms, push)
    assert webhook_secret(load_settings(data_dir=tmp_path, secret_key="k" * 40), "sms") == sms
    assert webhook_secret(load_settings(data_dir=tmp_path, secret_key="j" * 40), "sms") != sms
