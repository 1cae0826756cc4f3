"""Settings come from arguments, LIFETIDE_* variables and lifetide.toml, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifetide.settings import SettingsError, load_settings


def test_defaults_put_the_embedded_stores_in_lifetide_data(tmp_path: Path) -> None:
    s = load_settings()
    assert s.data_dir == Path("lifetide-data")
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'lifetide-data' / 'lifetide.db'}"
    assert s.resolved_warehouse_url == f"duckdb://{tmp_path / 'lifetide-data' / 'warehouse.duckdb'}"


def test_environment_overrides_toml_and_arguments_override_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "lifetide.toml").write_text('data_dir = "from-toml"\nimport_max_errors = 7\n')
    assert load_settings().data_dir == Path("from-toml")
    assert load_settings().import_max_errors == 7
    monkeypatch.setenv("LIFETIDE_DATA_DIR", "from-env")
    assert load_settings().data_dir == Path("from-env")
    assert load_settings(data_dir=Path("from-arg")).data_dir == Path("from-arg")


def test_config_file_named_by_variable_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFETIDE_CONFIG", "missing.toml")
    with pytest.raises(SettingsError, match=r"LIFETIDE_CONFIG=missing.toml: no such file"):
        load_settings()


def test_unknown_setting_in_toml_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "lifetide.toml").write_text('data_dri = "typo"\n')
    with pytest.raises(ValueError, match="data_dri"):
        load_settings()


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFETIDE_ENV", "production")
    with pytest.raises(ValueError, match="LIFETIDE_SECRET_KEY must be set"):
        load_settings()
    monkeypatch.setenv("LIFETIDE_SECRET_KEY", "short")
    with pytest.raises(ValueError, match="at least 32 characters"):
        load_settings()
    monkeypatch.setenv("LIFETIDE_SECRET_KEY", "x" * 40)
    assert load_settings().env == "production"


def test_each_call_reads_the_environment_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFETIDE_IMPORT_MAX_ERRORS", "3")
    assert load_settings().import_max_errors == 3
    monkeypatch.setenv("LIFETIDE_IMPORT_MAX_ERRORS", "4")
    assert load_settings().import_max_errors == 4


def test_warehouse_memory_limit_is_checked_and_applied(tmp_path: Path) -> None:
    from lifetide.warehouse.connection import Warehouse

    with pytest.raises(ValueError, match="warehouse_memory_limit"):
        load_settings(warehouse_memory_limit="lots")
    settings = load_settings(warehouse_memory_limit="512MB", data_dir=tmp_path)
    url, limit_setting = settings.resolved_warehouse_url, settings.warehouse_memory_limit
    with Warehouse(url, memory_limit=limit_setting) as wh:
        (limit,) = wh.duckdb.execute("SELECT current_setting('memory_limit')").fetchone()
    assert limit == "488.2 MiB"  # DuckDB reports 512 MB (10^6 bytes) in MiB
    with pytest.raises(ValueError, match="must look like 4GB"):
        Warehouse(f"duckdb://{tmp_path / 'w.duckdb'}", memory_limit="4GB'; DROP TABLE x; --")


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("LIFETIDE_GLOBAL_HOLDOUT_PERCENT", "60", "global_holdout_percent"),
        ("LIFETIDE_GLOBAL_HOLDOUT_PERCENT", "five", "global_holdout_percent"),
        ("LIFETIDE_RENDER_PROCESSES", "2", "render_processes"),
        ("LIFETIDE_RENDER_PROCESSES", "-1", "render_processes"),
        ("LIFETIDE_ACTIVITY_RETENTION_DAYS", "0", "activity_retention_days"),
        ("LIFETIDE_ACTIVITY_RETENTION_DAYS", "731", "activity_retention_days"),
        ("LIFETIDE_ACTIVITY_RETENTION_DAYS", "a month", "activity_retention_days"),
    ],
)
def test_holdout_and_render_settings_out_of_range_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=words):
        load_settings()


def test_the_shop_is_named_by_its_setting_else_by_the_sender(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().shop_display_name == "Lifetide Demo Shop"
    assert load_settings(email_from="shop@example.com").shop_display_name is None
    monkeypatch.setenv("LIFETIDE_SHOP_NAME", "Glow & Co")
    monkeypatch.setenv("LIFETIDE_SHOP_URL", "https://glow.example/")
    settings = load_settings()
    assert (settings.shop_display_name, settings.shop_url) == ("Glow & Co", "https://glow.example/")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LIFETIDE_SHOP_URL", "glow.example"), ("LIFETIDE_SHOP_URL", "ftp://glow.example"),
     ("LIFETIDE_SHOP_NAME", "")],
)  # fmt: skip
def test_a_bad_shop_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable.removeprefix("LIFETIDE_").lower()):
        load_settings()
