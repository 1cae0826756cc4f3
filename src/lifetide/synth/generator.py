"""generate(): the synthetic retailer, streamed chunk by chunk to Parquet."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lifetide.synth import truth
from lifetide.synth.campaigns import schedule
from lifetide.synth.catalog import build_catalog
from lifetide.synth.chunk import World, build_chunk
from lifetide.synth.config import SynthConfig
from lifetide.synth.contacts import draw_identities
from lifetide.synth.events import vocabulary
from lifetide.synth.shelves import stock
from lifetide.synth.streams import stream
from lifetide.synth.timeline import Timeline
from lifetide.synth.writer import ParquetSink
from lifetide.warehouse import schema
from lifetide.warehouse.arrow import arrow_schema

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SynthSummary:
    """Rows written per table ('truth/persons' etc. for the ground truth) and where."""

    rows: dict[str, int]
    out_dir: Path


def generate(
    config: SynthConfig, out_dir: Path, on_progress: Progress | None = None
) -> SynthSummary:
    """Write the warehouse tables and the ground truth for `config` into `out_dir`.

    Same configuration, same tables, row for row: every random draw comes from a stream
    keyed on (seed, purpose, chunk). Progress is reported as (stage, done, total): "prepare",
    then "persons" after each chunk, then "finish".
    """
    report = on_progress or (lambda stage, done, total: None)
    out_dir = Path(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    timeline = Timeline.of(config)
    report("prepare", 0, 1)
    catalog = build_catalog(config.products, stream(config.seed, "catalog"))
    campaigns = schedule(config, timeline, stream(config.seed, "campaigns"))
    world = World(
        config=config,
        timeline=timeline,
        shelves=stock(catalog),
        identities=draw_identities(config.customers, stream(config.seed, "contacts")),
        campaigns=campaigns,
        vocabulary=vocabulary(catalog, campaigns),
    )
    report("prepare", 1, 1)

    files = {
        name: (out_dir / f"{name}.parquet", arrow_schema(schema.table(name)))
        for name in schema.IMPORT_ORDER
    }
    files.update(
        {
            f"truth/{name}": (out_dir / "truth" / f"{name}.parquet", s)
            for name, s in truth.SCHEMAS.items()
        }
    )
    sink = ParquetSink(files)
    try:
        sink.put("products", catalog.table(timeline))
        sink.put("truth/campaigns", truth.campaigns_table(campaigns, timeline))
        total = config.customers
        for chunk, begin in enumerate(range(0, total, config.chunk_size)):
            end = min(total, begin + config.chunk_size)
            for name, table in build_chunk(world, chunk, begin, end).items():
                sink.put(name, table)
            report("persons", end, total)
    finally:
        rows = sink.close()
    (out_dir / "truth" / "params.json").write_text(json.dumps(config.to_json(), indent=2) + "\n")
    report("finish", 1, 1)
    return SynthSummary(rows=rows, out_dir=out_dir)
