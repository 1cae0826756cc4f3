"""Reading the SMTP server's address: smtp://user:password@host:port?option=value.

- `smtp://` connects in the clear and upgrades with STARTTLS when the server offers it (port 25
  by default); `smtps://` speaks TLS from the first byte (port 465 by default).
- User and password are percent-decoded, so `p%40ss` is the password `p@ss`.
- Options: `starttls=auto|require|off` (require: refuse a server that does not offer it),
  `tls_verify=true|false` (false: accept any certificate; for tests and private relays),
  `ca_file=/path/ca.pem` (trust this CA for the server's certificate).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from lifetide.settings import SettingsError

StartTls = Literal["auto", "require", "off"]
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
OPTIONS = ("starttls", "tls_verify", "ca_file")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SmtpUrlError(SettingsError):
    """The SMTP server's address cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class SmtpServer:
    """Where the SMTP server is and how to talk to it (the password is kept out of repr)."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: StartTls = "auto"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_verify: bool = True
    ca_file: str | None = None

    @property
    def display(self) -> str:
        """The address without the password, for messages and logs."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{quote(self.username, safe='')}:***@" if self.username is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext:
        """The TLS settings for this server: verified (against ca_file if given) unless told."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def parse_smtp_url(url: str) -> SmtpServer:
    """The server an smtp:// or smtps:// url names, or SmtpUrlError saying what is wrong."""
    text = url.strip()
    parts = urlsplit(text)
    shown = _redacted(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise SmtpUrlError(f"SMTP url {shown!r} must start with smtp:// or smtps://")
    if "@" not in parts.netloc and "@" in text.partition("://")[2]:
        raise SmtpUrlError(
            f"SMTP url {shown!r}: percent-encode '/', '?' and '#' in the user name and "
            "password (e.g. '/' as %2F)"
        )
    if not parts.hostname:
        raise SmtpUrlError(
            f"SMTP url {shown!r} has no host (percent-encode '@', '/', ':' and '?' in the "
            "user name and password)"
        )
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise SmtpUrlError(
            f"SMTP url {shown!r} has a port that is not a number from 1 to 65535"
        ) from None
    if parts.path not in ("", "/") or parts.fragment:
        raise SmtpUrlError(
            f"SMTP url {shown!r} has a path; only host, port and ?options are read "
            "(percent-encode '/' in the password)"
        )
    options = _options(parts.query, shown)
    starttls = options.get("starttls", "auto")
    if starttls not in ("auto", "require", "off"):
        raise SmtpUrlError(f"SMTP url {shown!r}: starttls must be auto, require or off")
    if scheme == "smtps" and starttls == "require":
        raise SmtpUrlError(
            f"SMTP url {shown!r}: smtps:// is TLS from the start; starttls=require is for smtp://"
        )
    verify = options.get("tls_verify", "true").lower()
    if verify not in _TRUE | _FALSE:
        raise SmtpUrlError(f"SMTP url {shown!r}: tls_verify must be true or false")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return SmtpServer(
        host=parts.hostname,
        port=port,
        implicit_tls=scheme == "smtps",
        starttls="off" if scheme == "smtps" else starttls,  # type: ignore[arg-type]
        username=username or None,
        password=password if username else None,
        tls_verify=verify in _TRUE,
        ca_file=options.get("ca_file") or None,
    )


def _options(query: str, shown: str) -> dict[str, str]:
    """The ?name=value options, each known and given once."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise SmtpUrlError(f"SMTP url {shown!r} has a malformed query string") from None
    options: dict[str, str] = {}
    for name, value in pairs:
        if name not in OPTIONS:
            raise SmtpUrlError(
                f"SMTP url {shown!r}: unknown option {name!r}; known: {', '.join(OPTIONS)}"
            )
        if name in options:
            raise SmtpUrlError(f"SMTP url {shown!r}: option {name!r} is given twice")
        options[name] = value.strip()
    return options


def _redacted(url: str) -> str:
    """The url with any password replaced by ***, safe to show in an error."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url[:200]
    # The last "@" ends the user information even when a password holds "/", "?" or "@".
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}://{userinfo}{at}{host}"[:200]
