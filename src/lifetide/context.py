"""Lifetide's parts wired from settings: the clock, the operational database, the warehouse."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock, SystemClock
from lifetide.collect.activity import RecentActivity
from lifetide.collect.journal import Journal
from lifetide.collect.loader import WarehouseLoader
from lifetide.collect.sources import Sources
from lifetide.identity.live import LiveIdentity
from lifetide.measure import placed
from lifetide.measure.tables import PLACED, SENDS, TOUCHES, ensure_measure_tables
from lifetide.measure.touches import backfill
from lifetide.ops.database import create_ops_engine, session_factory, upgrade
from lifetide.segments.tables import ensure_segment_tables
from lifetide.settings import Settings
from lifetide.warehouse.connection import Warehouse


class Lifetide:
    """One running Lifetide: opens each store the first time something needs it."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()

    @cached_property
    def ops_engine(self) -> Engine:
        """The operational database, migrated to the latest schema if auto_migrate is on."""
        engine = create_ops_engine(self.settings.resolved_database_url)
        if self.settings.auto_migrate:
            upgrade(engine)
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the operational database."""
        return session_factory(self.ops_engine)

    @cached_property
    def activity(self) -> RecentActivity:
        """Recent cart and view events by owner, kept in the operational database."""
        return RecentActivity(self.sessions, self.clock, self.settings.activity_retention_days)

    def loader(self) -> WarehouseLoader:
        """The journal's loader into the warehouse, with live identity and recent activity."""
        live = LiveIdentity(self.sessions, self.clock)
        return WarehouseLoader(self.journal, self.warehouse, live, self.activity)

    @cached_property
    def warehouse(self) -> Warehouse:
        """The warehouse, with every Lifetide table (segment and measurement ones too) present."""
        warehouse = Warehouse(
            self.settings.resolved_warehouse_url,
            memory_limit=self.settings.warehouse_memory_limit,
        )
        warehouse.ensure_tables()
        ensure_segment_tables(warehouse.backend)
        created = ensure_measure_tables(warehouse.backend)
        if TOUCHES in created:
            # A warehouse from before touches were kept: its engagement events become touches.
            backend = warehouse.backend
            backend.insert(
                TOUCHES,
                backfill(backend.table("events"), backend.table(SENDS), backend.table(TOUCHES)),
            )
        if PLACED in created and warehouse.is_duckdb:
            # A warehouse from before placed orders were kept: its orders by profile.
            placed.rebuild(warehouse.duckdb)
        return warehouse

    @cached_property
    def journal(self) -> Journal:
        """The durable journal of tracking requests."""
        return Journal(self.settings.data_dir / "journal.db")

    @cached_property
    def sources(self) -> Sources:
        """Tracking sources and their write keys."""
        return Sources(self.sessions, self.clock)

    def close(self) -> None:
        """Close whatever was opened."""
        if "journal" in self.__dict__:
            self.journal.close()
        if "warehouse" in self.__dict__:
            self.warehouse.close()
        if "ops_engine" in self.__dict__:
            self.ops_engine.dispose()

    def __enter__(self) -> Lifetide:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
