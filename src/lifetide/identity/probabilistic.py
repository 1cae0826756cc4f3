"""Probabilistic matching of customer records that share no exact identifier (Splink).

Fellegi-Sunter weights learned from the data itself (Splink on DuckDB): names with typos,
a missing e-mail, the same phone and address. Pairs above `merge_at` are merged; pairs between
`review_at` and `merge_at` go to a review queue; the rest are different people.

Two lessons from testing this on 1M records (docs/research/splink.md) shape the settings:
phone, address, postcode and city are one household-level comparison, because scored as
independent evidence they merge family members; and EM is trained on blocks (e-mail +
postcode, then birth date) that teach it a differing birth date is strong evidence against.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


@dataclass(frozen=True)
class ScoredPair:
    """Two records (row positions) and the probability that they are one person."""

    a: int
    b: int
    probability: float


def score_pairs(
    records: pa.Table, *, keep_above: float = 0.5, threads: int = 2
) -> list[ScoredPair]:
    """Pairs of records with their match probability, for those above `keep_above`."""
    if records.num_rows < 2:
        return []
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.register("__records", _prepared(records))
    con.execute("CREATE TABLE records AS SELECT * FROM __records")
    db = DuckDBAPI(connection=con)
    linker = Linker(db.register("records"), _settings(), log_level=logging.ERROR)
    pairs_sample = 1e7 if records.num_rows > 200_000 else 2e6
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email_key"), block_on("phone", "birth_date")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=pairs_sample, seed=1)
    for rule in (block_on("email_key", "postal_code"), block_on("birth_date")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=5e6)
    predictions = linker.inference.predict(threshold_match_probability=keep_above)
    rows = con.execute(
        f"SELECT unique_id_l, unique_id_r, match_probability FROM {predictions.physical_name}"
    ).fetchall()
    con.close()
    return [ScoredPair(int(a), int(b), float(p)) for a, b, p in rows]


def _prepared(records: pa.Table) -> pa.Table:
    def lower(name: str) -> pa.Array:
        import pyarrow.compute as pc

        return pc.utf8_lower(pc.utf8_trim_whitespace(records.column(name)))

    return pa.table(
        {
            "unique_id": pa.array(range(records.num_rows), pa.int64()),
            "first_name_key": records.column("first_name_key"),
            "last_name_key": records.column("last_name_key"),
            "email_key": records.column("email_key"),
            "phone": records.column("phone"),
            "address_key": lower("address_line1"),
            "postal_code": records.column("postal_code"),
            "city_key": lower("city"),
            "birth_date": _without_placeholders(records.column("birth_date")).cast(pa.string()),
        }
    )


def _without_placeholders(dates: pa.ChunkedArray) -> pa.Array:
    """Birth dates, with those shared far beyond chance (1900-01-01 and the like) as null.

    Thousands of records on one date is a system's default, not a birthday; matched as
    evidence it joins strangers with common names.
    """
    import pyarrow.compute as pc

    counts = pc.value_counts(dates.combine_chunks())
    limit = max(50, len(dates) // 1000)
    placeholders = [
        v["values"] for v in counts.to_pylist() if v["values"] is not None and v["counts"] > limit
    ]
    if not placeholders:
        return dates.combine_chunks()
    return pc.if_else(
        pc.is_in(dates, pa.array(placeholders, dates.type)), None, dates
    ).combine_chunks()


def _settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name_key", jaro_winkler_thresholds=[0.92, 0.88]),
            cl.NameComparison("last_name_key", jaro_winkler_thresholds=[0.92, 0.88]),
            cl.EmailComparison("email_key"),
            cl.CustomComparison(
                [
                    cll.And(cll.NullLevel("phone"), cll.NullLevel("postal_code")),
                    cll.And(
                        cll.ExactMatchLevel("phone"),
                        cll.ExactMatchLevel("address_key"),
                        cll.ExactMatchLevel("postal_code"),
                    ),
                    cll.ExactMatchLevel("phone"),
                    cll.And(cll.ExactMatchLevel("address_key"), cll.ExactMatchLevel("postal_code")),
                    cll.ExactMatchLevel("postal_code"),
                    cll.ExactMatchLevel("city_key"),
                    cll.ElseLevel(),
                ],
                output_column_name="household",
            ),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email_key"),
            block_on("phone"),
            block_on("last_name_key", "birth_date"),
            block_on("first_name_key", "birth_date"),
            block_on("postal_code", "address_key"),
            block_on("last_name_key", "postal_code"),
        ],
    )
