"""Same configuration, same tables; another seed, other tables; progress is reported."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lifetide.synth import SynthConfig, generate

TABLES = ["products", "customers", "orders", "order_items", "events"]
TRUTH = ["persons", "records", "devices", "order_values", "campaigns"]
# Small, with chunks of 700 persons so the chunked streams are exercised.
SMALL = SynthConfig(customers=2_000, chunk_size=700, seed=11)


def _tables(root: Path) -> dict[str, pa.Table]:
    out: dict[str, pa.Table] = {name: pq.read_table(root / f"{name}.parquet") for name in TABLES}
    out.update({f"truth/{n}": pq.read_table(root / "truth" / f"{n}.parquet") for n in TRUTH})
    return out


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    return _tables(generate(SMALL, tmp_path_factory.mktemp("a")).out_dir)


def test_same_seed_gives_identical_tables(tmp_path: Path, first: dict[str, pa.Table]) -> None:
    again = _tables(generate(SMALL, tmp_path).out_dir)
    for name, table in first.items():
        assert table.equals(again[name]), name
    assert (tmp_path / "truth" / "params.json").read_text().count('"seed": 11') == 1


def test_another_seed_gives_other_tables(tmp_path: Path, first: dict[str, pa.Table]) -> None:
    other = SynthConfig(customers=SMALL.customers, chunk_size=SMALL.chunk_size, seed=12)
    tables = _tables(generate(other, tmp_path).out_dir)
    for name in ["customers", "orders", "events", "truth/persons"]:
        assert not tables[name].equals(first[name]), name


def test_progress_is_reported_per_chunk(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    config = SynthConfig(customers=900, chunk_size=300, seed=3)
    summary = generate(
        config, tmp_path, lambda stage, done, total: calls.append((stage, done, total))
    )
    assert [c for c in calls if c[0] == "persons"] == [
        ("persons", 300, 900), ("persons", 600, 900), ("persons", 900, 900)
    ]  # fmt: skip
    assert calls[0][0] == "prepare" and calls[-1] == ("finish", 1, 1)
    assert summary.rows["truth/persons"] == 900
    assert summary.out_dir == tmp_path


def test_config_rejects_impossible_settings() -> None:
    with pytest.raises(ValueError, match="customers"):
        SynthConfig(customers=0)
    with pytest.raises(ValueError, match="cart_abandonment"):
        SynthConfig(cart_abandonment=1.0)
    with pytest.raises(ValueError, match="email_classes"):
        SynthConfig(email_classes=(0.5, 0.5, 0.5, 0.0))
    with pytest.raises(ValueError, match="Gamma-Gamma"):
        SynthConfig(gg_q=1.0)


def test_params_json_holds_every_true_parameter() -> None:
    doc = SynthConfig().to_json()
    for name in ("bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "gg_p", "gg_q", "gg_gamma"):
        assert name in doc["config"]
    assert doc["end_exclusive"] == "2026-11-02T00:00:00"
    assert "WEEK" in doc["units"]
