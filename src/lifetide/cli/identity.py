"""`lifetide identity ...` and `lifetide profile`: resolving customers and looking at one."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table as RichTable

from lifetide.cli.state import console, fail, state_of
from lifetide.identity.profiles import (
    ProfileError,
    decide_review,
    find_profile_id,
    open_reviews,
    profile_view,
    unmerge,
)
from lifetide.identity.resolver import IdentityResolver, Thresholds
from lifetide.scoring.profiles import NoProfiles, sync_profiles

identity_app = typer.Typer(help="Identity resolution: one profile per person.")


@identity_app.command("resolve")
def identity_resolve(
    ctx: typer.Context,
    merge_at: Annotated[
        float, typer.Option(min=0.5, max=1.0, help="Merge at this match probability.")
    ] = 0.99,
    review_at: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Queue for review from this probability.")
    ] = 0.9,
    probabilistic: Annotated[
        bool, typer.Option("--probabilistic/--exact-only", help="Score records with Splink too.")
    ] = True,
) -> None:
    """Resolve every customer record and device link in the warehouse into profiles."""
    if review_at > merge_at:
        fail(f"--review-at ({review_at}) must not be above --merge-at ({merge_at})", 2)
    started = time.perf_counter()
    with state_of(ctx).lifetide() as app, console.status("resolving") as status:
        resolver = IdentityResolver(
            app.warehouse,
            app.sessions,
            app.clock,
            Thresholds(merge_at, review_at),
            probabilistic=probabilistic,
        )
        summary = resolver.run(on_stage=lambda stage: status.update(stage))
        # Segments read profiles and their keys in the warehouse: copy them across now.
        status.update("copying profiles to the warehouse")
        with app.sessions() as session, contextlib.suppress(NoProfiles):
            sync_profiles(session, app.warehouse)
    s = summary
    console.print(
        f"{s.records:,} customer records -> {s.profiles:,} profiles "
        f"({s.records_merged:,} records merged: {s.deterministic_links:,} exact links, "
        f"{s.probabilistic_links:,} scored links); {s.reviews:,} pairs to review; "
        f"{s.devices:,} devices attached, {s.device_conflicts:,} shared-device conflicts; "
        f"{s.overused_values:,} over-shared values ignored; "
        f"{time.perf_counter() - started:.1f} s",
        highlight=False,
    )


@identity_app.command("reviews")
def identity_reviews(
    ctx: typer.Context, limit: Annotated[int, typer.Option(min=1, help="How many to show.")] = 50
) -> None:
    """List possible duplicates waiting for a decision."""
    with state_of(ctx).lifetide() as app:
        reviews = open_reviews(app.sessions, limit)
    table = RichTable(title="Possible duplicates")
    for col in ("id", "record a", "record b", "probability"):
        table.add_column(col)
    for r in reviews:
        table.add_row(str(r.id), r.record_a, r.record_b, f"{r.score:.3f}")
    console.print(table)


@identity_app.command("review")
def identity_review(
    ctx: typer.Context,
    review_id: Annotated[int, typer.Argument(help="The review's id.")],
    merge: Annotated[bool, typer.Option("--merge/--reject", help="Same person, or not.")],
) -> None:
    """Decide a possible duplicate; `identity resolve` applies it."""
    with state_of(ctx).lifetide() as app:
        try:
            decide_review(app.sessions, review_id, merge, app.clock.now())
        except ProfileError as err:
            fail(str(err))
    console.print(
        f"review {review_id}: {'merge' if merge else 'keep apart'}; run `lifetide identity resolve`"
    )


@identity_app.command("unmerge")
def identity_unmerge(
    ctx: typer.Context,
    merge_id: Annotated[int, typer.Argument(help="The merge's id (see `lifetide profile`).")],
    who: Annotated[str, typer.Option(help="Who undoes it, for the record.")] = "cli",
) -> None:
    """Undo a merge: its two records are kept apart from the next resolution on."""
    with state_of(ctx).lifetide() as app:
        try:
            merge = unmerge(app.sessions, merge_id, who, app.clock.now())
        except ProfileError as err:
            fail(str(err))
    console.print(
        f"merge {merge_id} of {merge.record_a} and {merge.record_b} undone; "
        "run `lifetide identity resolve`"
    )


def profile(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Profile id, e-mail, phone, or any identifier.")],
) -> None:
    """Show a profile: identifiers, traits, consents, merge history, recent events and orders."""
    with state_of(ctx).lifetide() as app:
        try:
            view = profile_view(app.sessions, app.warehouse, find_profile_id(app.sessions, query))
        except ProfileError as err:
            fail(str(err))
    c = view.customer
    name = " ".join(p for p in (c.first_name, c.last_name) if p) or "(no name)"
    console.rule(f"Profile {c.id}: {name}")
    console.print(
        f"e-mail {c.email or '-'}  phone {c.phone or '-'}  "
        f"time zone {c.time_zone or '-'}  country {c.country or '-'}"
    )
    if c.traits:
        console.print(
            "traits: " + ", ".join(f"{k}={v}" for k, v in sorted(c.traits.items())), highlight=False
        )
    _table("Identifiers", ("kind", "value", "source"), view.identities)
    _table("Consents", ("channel", "status", "source"), view.consents)
    _table(
        "Merge history",
        ("id", "records", "rule", "evidence", "when", "undone"),
        [
            (
                str(m.id),
                f"{m.record_a} + {m.record_b}",
                m.rule,
                m.evidence or (f"p={m.score:.3f}" if m.score is not None else ""),
                f"{m.created_at:%Y-%m-%d %H:%M}",
                f"{m.undone_at:%Y-%m-%d}" if m.undone_at else "",
            )
            for m in view.merges
        ],
    )
    _table(
        "Recent orders",
        ("when", "order", "channel", "status", "total", "promo"),
        [
            (
                f"{o['ordered_at']:%Y-%m-%d}",
                o["order_id"],
                o["channel"],
                o["status"],
                f"{o['total']:,.2f}",
                o["promo_code"] or "",
            )
            for o in view.orders
        ],
    )
    _table(
        "Recent events",
        ("when", "type", "event", "product", "order"),
        [
            (
                f"{e['timestamp']:%Y-%m-%d %H:%M}",
                e["type"],
                e["event"] or "",
                e["product_id"] or "",
                e["order_id"] or "",
            )
            for e in view.events
        ],
    )


def _table(title: str, columns: tuple[str, ...], rows: Sequence[Sequence[str | None]]) -> None:
    table = RichTable(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(value or "" for value in row))
    console.print(table)
