"""Which transports the settings call for: SMTP or an outbox folder; SMS and push providers."""

from __future__ import annotations

import hashlib
import hmac

from lifetide.channels.files import FileTransport
from lifetide.channels.messages import TextChannel
from lifetide.channels.smtp import SmtpTransport
from lifetide.channels.webhook import WebhookTransport
from lifetide.settings import Settings


def email_transport(settings: Settings) -> SmtpTransport | FileTransport:
    """SMTP to settings.smtp_url over smtp_connections connections, else .eml files.

    Without an SMTP url, messages are written to data_dir/outbox. A malformed url raises
    SmtpUrlError (a SettingsError) saying what is wrong, without showing the password.
    """
    if settings.smtp_url is not None and settings.smtp_url.get_secret_value().strip():
        return SmtpTransport(
            settings.smtp_url.get_secret_value(), connections=settings.smtp_connections
        )
    return FileTransport(settings.data_dir / "outbox")


def text_transport(settings: Settings, channel: TextChannel) -> WebhookTransport | None:
    """The webhook provider for SMS or push, or None when its url is not set."""
    if channel == "sms":
        url = settings.sms_webhook_url
    elif channel == "push":
        url = settings.push_webhook_url
    else:
        raise ValueError(f"no text transport for channel {channel!r}; sms or push")
    if not url:
        return None
    return WebhookTransport(
        url,
        channel,
        webhook_secret(settings, channel),
        allow_private=settings.allow_private_destinations,
    )


def webhook_secret(settings: Settings, channel: TextChannel) -> str:
    """The key that signs requests to a channel's provider (give it to the provider).

    Derived from secret_key, never the key itself: the provider must not learn what signs
    Lifetide's own links and sessions.
    """
    key = settings.secret_key.get_secret_value().encode("utf-8")
    return hmac.new(key, f"lifetide webhook {channel}".encode(), hashlib.sha256).hexdigest()
