"""Settings: from `LIFETIDE_*` environment variables and an optional `lifetide.toml`.

Handed out by `load_settings()`, never held in an import-time global, so a test or a second
process can run with its own.
"""

from __future__ import annotations

import os
from dataclasses import fields
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SECRET = "lifetide-development-secret-change-me"  # noqa: S105 (refused in production)
CONFIG_FILE_ENV = "LIFETIDE_CONFIG"


class SettingsError(ValueError):
    """Settings that cannot be used as given."""


class Settings(BaseSettings):
    """Every setting Lifetide reads; each is documented in docs/settings.md."""

    model_config = SettingsConfigDict(env_prefix="LIFETIDE_", extra="forbid")

    env: Literal["development", "test", "production"] = Field(
        "development", description="development, test or production; production refuses defaults."
    )
    data_dir: Path = Field(
        Path("lifetide-data"), description="Where the embedded stores and generated data live."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the operational database; default SQLite in data_dir.",
    )
    warehouse_url: str | None = Field(
        None, description="Ibis URL of the warehouse; default a DuckDB file in data_dir."
    )
    secret_key: SecretStr = Field(
        SecretStr(DEFAULT_SECRET), description="Signs sessions and links; required in production."
    )
    auto_migrate: bool = Field(
        True, description="Upgrade the operational database to the latest schema on start."
    )
    import_max_errors: int = Field(
        100, ge=1, description="How many problems an import lists before it summarises the rest."
    )
    warehouse_memory_limit: str = Field(
        "4GB",
        description="DuckDB memory limit; beyond it DuckDB spills to disk.",
        pattern=r"(?i)^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$",
    )
    session_hours: int = Field(
        12, ge=1, description="Hours a Studio sign-in lasts without use; each use extends it."
    )
    cookie_secure: bool | None = Field(
        None,
        description="Send the session cookie only over HTTPS; unset means: when env is production.",
    )
    allow_private_destinations: bool = Field(
        False,
        description=(
            "Let webhook destinations be loopback, private, link-local or reserved addresses "
            "(for testing and on-premise receivers)."
        ),
    )
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public address of this Lifetide: tracked links, pixels and unsubscribe pages.",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
    )
    email_from: str = Field(
        "Lifetide Demo Shop <shop@lifetide.dev>",
        description="From address of journey e-mails.",
        min_length=3,
    )
    shop_name: str | None = Field(
        None,
        description=(
            "The shop's name in messages (`shop.name` in templates) and on the unsubscribe "
            "pages; unset: the display name of email_from."
        ),
        min_length=1,
        max_length=200,
    )
    shop_url: str | None = Field(
        None,
        description=(
            "The shop's website (`shop.url` in templates); unset: the site of the catalog's "
            "product pages, else base_url."
        ),
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
    )
    smtp_url: SecretStr | None = Field(
        None,
        description=(
            "SMTP server for journey e-mails, smtp://user:password@host:port (STARTTLS when "
            "offered) or smtps:// (TLS from the start); unset writes .eml files to data_dir/outbox."
        ),
    )
    smtp_connections: int = Field(
        4, ge=1, le=64, description="SMTP connections kept open and used in parallel."
    )
    activity_retention_days: int = Field(
        30,
        ge=1,
        le=730,
        description=(
            "Days of cart and product-view events kept by customer for messages (cart lines, "
            "recently viewed); older ones stay in the warehouse only."
        ),
    )
    global_holdout_percent: float = Field(
        5.0,
        ge=0,
        le=50,
        description=(
            "Percent of customers in the global control group, kept from all marketing to "
            "measure its lift (0: none)."
        ),
    )
    render_processes: int = Field(
        1,
        ge=0,
        le=1,
        description=(
            "Worker processes that build journey e-mails while the dispatcher sends (0: build "
            "in the dispatcher's own process)."
        ),
    )
    sms_webhook_url: str | None = Field(
        None, description="HTTP provider that sends SMS (generic webhook); unset: no SMS."
    )
    push_webhook_url: str | None = Field(
        None, description="HTTP provider that sends push notifications; unset: no push."
    )
    marketing_per_day: int = Field(
        1, ge=0, description="Most marketing messages per customer and channel in any 24 hours."
    )
    marketing_per_week: int = Field(
        3, ge=0, description="Most marketing messages per customer and channel in any 7 days."
    )
    quiet_hours: str | None = Field(
        "21:00-08:00",
        description="Local hours in which marketing is deferred (HH:MM-HH:MM); empty: none.",
        pattern=r"^(([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d)?$",
    )
    require_opt_in: bool = Field(
        True, description="Marketing needs a recorded opt-in; off: only an opt-out stops it."
    )
    lifecycle_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Overrides of the lifecycle-stage thresholds, as JSON, e.g. "
            '{"new_days": 30, "vip_share": 0.1}; see docs/models.md.'
        ),
    )

    @field_validator("lifecycle_thresholds")
    @classmethod
    def _known_thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        from lifetide.models.lifecycle import LifecycleThresholds  # numpy: only when set

        if value:
            try:
                LifecycleThresholds(**dict[str, Any](value))
            except TypeError as err:
                known = ", ".join(f.name for f in fields(LifecycleThresholds))
                raise ValueError(f"{err}; the thresholds are: {known}") from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments win over the environment, which wins over lifetide.toml."""
        toml_file = _config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @model_validator(mode="after")
    def _refuse_defaults_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() == DEFAULT_SECRET:
            raise SettingsError(
                "LIFETIDE_SECRET_KEY must be set to a secret of your own when "
                "LIFETIDE_ENV=production"
            )
        if self.env == "production" and len(self.secret_key.get_secret_value()) < 32:
            raise SettingsError("LIFETIDE_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def shop_display_name(self) -> str | None:
        """The shop's name: shop_name, else the display name of email_from (None: neither)."""
        return self.shop_name or parseaddr(self.email_from)[0] or None

    @property
    def resolved_cookie_secure(self) -> bool:
        """Whether the session cookie is marked Secure (HTTPS only)."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.env == "production"

    @property
    def resolved_database_url(self) -> str:
        """The operational database URL, defaulting to SQLite inside data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lifetide.db').resolve()}"

    @property
    def resolved_warehouse_url(self) -> str:
        """The warehouse URL, defaulting to a DuckDB file inside data_dir."""
        if self.warehouse_url:
            return self.warehouse_url
        return f"duckdb://{(self.data_dir / 'warehouse.duckdb').resolve()}"


def _config_file() -> Path | None:
    named = os.environ.get(CONFIG_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise SettingsError(f"{CONFIG_FILE_ENV}={named}: no such file")
        return path
    local = Path("lifetide.toml")
    return local if local.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Read the settings now: arguments, then LIFETIDE_* variables, then lifetide.toml."""
    return Settings(**overrides)
