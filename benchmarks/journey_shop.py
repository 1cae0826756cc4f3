"""The shop the journey benchmarks run against: a million customers, a catalog, carts, a sink.

Used by benchmarks/journeys.py. One `Shop` per operational database (embedded SQLite, or a
fresh schema on PostgreSQL), always with the embedded DuckDB warehouse:

- ops: N customers (names, e-mail, time zone, country), a `user_id` identity each, marketing
  e-mail consent granted for every tenth (the e-mailed pool), the bundled templates, and the
  bundled cart-abandonment journey, live. Rows go in with executemany in big batches on SQLite
  and COPY on PostgreSQL.
- warehouse: a catalog of `products` with names, prices, images and pages; for each pool
  customer a cart (1-3 `Product Added` with its `cart_id`) and three recent `Product Viewed`;
  two older `Product Viewed` for every customer; twelve recommendations per pool customer.

Instances are written straight into `journey_instances` at the cart journey's first wait
(`wait_an_hour`, visited once), with the wake time each benchmark needs: the state the engine
leaves an opened cart in, an hour before its e-mail.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
from sqlalchemy import create_engine, delete, func, insert, select, text

from lifetide.context import Lifetide
from lifetide.experiments.holdouts import HELD_OUT, global_holdout
from lifetide.journeys.definition import Send
from lifetide.journeys.files import bundled_journeys
from lifetide.journeys.store import JourneyStore
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.models import JourneyInput, JourneyInstance, JourneySend, PromoCode
from lifetide.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
POOL_EVERY = 10  # every tenth customer consents to marketing e-mail: the e-mailed pool
RECOMMENDED = 12
FIRST = ["Ann", "Ben", "Chloé", "Dan", "Eve", "Femi", "Grace", "Hiro", "Ines", "Jon", "Kai", "Lea"]
LAST = ["Smith", "García", "Okafor", "Müller", "Rossi", "Tanaka", "Dubois", "Khan", "Silva"]
ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Paris", "Asia/Tokyo"]
COUNTRIES = ["US", "US", "GB", "FR", "JP"]
ADJECTIVES = [
    "Hydrating",
    "Vitamin C",
    "Gentle",
    "Radiance",
    "Overnight",
    "Daily",
    "Repair",
    "Clarifying",
    "Soothing",
    "Firming",
    "Brightening",
    "Nourishing",
]
NOUNS = ["Serum", "Cream", "Cleanser", "Toner", "Mask", "Oil", "Balm", "Mist", "Lotion", "Gel"]
CATEGORIES = ["skincare", "makeup", "haircare", "fragrance", "bodycare"]
BRANDS = ["Lumen", "Verdant", "Maison Claire", "Oro", "Kumo", "Nordlys", "Sable", "Tidal"]


def iso(moment: dt.datetime) -> str:
    """A UTC moment as SQLAlchemy stores it in SQLite (no offset)."""
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S.%f}"


@dataclass
class Sink:
    """The SMTP sink process (benchmarks/smtp_sink.py) and a reader of what it accepted."""

    process: subprocess.Popen[str]
    port: int
    out: Path
    offset: int = 0
    arrived: dict[str, float] = field(default_factory=dict)
    lines: int = 0
    sizes: list[int] = field(default_factory=list)

    @classmethod
    def start(cls, folder: Path) -> Sink:
        """Start the sink on a free port; returns once it listens."""
        out = folder / "sink.jsonl"
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "smtp_sink.py"),
                "--port",
                "0",
                "--out",
                str(out),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        if ready[:1] != ["ready"]:
            process.kill()
            raise SystemExit(f"the SMTP sink did not start: {ready}")
        return cls(process, int(ready[1]), out)

    @property
    def url(self) -> str:
        """The SMTP URL of the sink."""
        return f"smtp://127.0.0.1:{self.port}"

    def read(self) -> int:
        """Take in the lines written since the last read; how many there were."""
        if not self.out.exists():
            return 0
        with self.out.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        new = 0
        for line in complete.splitlines():
            record = orjson.loads(line)
            key = record.get("x_lifetide_send")
            if key is not None:
                # The first arrival counts: a re-delivery is not when the e-mail left.
                self.arrived.setdefault(key, float(record["at"]))
            self.sizes.append(int(record["size"]))
            new += 1
        self.lines += new
        return new

    def forget(self) -> None:
        """Read what arrived so far, then forget it (instance ids, and keys, repeat per store)."""
        self.read()
        self.arrived.clear()
        self.sizes.clear()

    def stop(self) -> None:
        """Stop the sink process."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Shop:
    """A populated Lifetide on one operational database, and how to make work for it."""

    def __init__(self, name: str, folder: Path, database_url: str | None, sink: Sink) -> None:
        self.name = name
        self.folder = folder
        self.database_url = database_url
        self.sink = sink
        self.customers = 0
        self.journey_id = 0
        self.first_email: dict[str, Any] = {}
        self._pool: Iterator[int] = iter(())
        self.setup_seconds: dict[str, float] = {}

    def settings(self, **overrides: Any) -> Settings:
        """The shop's settings: its stores, the sink, no quiet hours (see the module doc)."""
        values: dict[str, Any] = {
            "data_dir": self.folder / "data",
            "database_url": self.database_url,
            "smtp_url": self.sink.url,
            "base_url": "https://shop.example",
            "email_from": "Glow Shop <hello@shop.example>",
            # The run's wall clock may fall in anyone's night; deferring would measure nothing.
            "quiet_hours": "",
        }
        values.update(overrides)
        return load_settings(**values)

    def open(self, **overrides: Any) -> Lifetide:
        """A Lifetide on the shop (SystemClock)."""
        return Lifetide(self.settings(**overrides))

    def take(self, n: int) -> list[int]:
        """`n` pool customers never used before (each is e-mailed once: caps are per day).

        Customers in the global control group are passed over: the gate would skip their
        e-mails, and every taken customer must be e-mailed. The others' exposures are still
        recorded, as in production.
        """
        holdout = global_holdout(self.settings().global_holdout_percent)
        taken: list[int] = []
        while len(taken) < n:
            pid = next(self._pool, 0)
            if pid == 0:
                raise SystemExit("not enough consenting customers: raise --customers")
            if holdout is None or holdout.arm_of(pid) != HELD_OUT:
                taken.append(pid)
        return taken

    # -- building ------------------------------------------------------------------------

    def build(self, customers: int, products: int) -> None:
        """Fill both stores (see the module doc)."""
        self.customers = customers
        self._pool = iter(range(POOL_EVERY, customers + 1, POOL_EVERY))
        now = dt.datetime.now(dt.UTC)
        with self.open() as app:
            started = time.perf_counter()
            if app.ops_engine.dialect.name == "postgresql":
                self._copy_postgres(app, customers, now)
            else:
                self._insert_sqlite(app, customers, now)
            self.setup_seconds["ops rows"] = time.perf_counter() - started
            TemplateStore(app.sessions, app.clock).ensure_bundled()
            store = JourneyStore(app.sessions, app.clock)
            cart = bundled_journeys()["cart_abandonment"]
            self.journey_id = store.create(cart.name, cart, None).id
            store.set_status(self.journey_id, "live")
            step = cart.steps["first_email"]
            assert isinstance(step, Send) and step.offer is not None
            self.first_email = step.offer.model_dump(mode="json")
            started = time.perf_counter()
            self.build_warehouse(app, customers, products, now)
            self.setup_seconds["warehouse"] = time.perf_counter() - started
            # The events went straight into DuckDB, around the loader: copied to recent
            # activity as an events import does.
            started = time.perf_counter()
            self.setup_seconds["recent activity rows"] = app.activity.copy_from(app.warehouse)
            if app.ops_engine.dialect.name == "postgresql":
                # Now, not by autovacuum during a timed run: a long-lived table is vacuumed.
                with app.ops_engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                        text("VACUUM ANALYZE shopper_activity")
                    )
            self.setup_seconds["recent activity"] = time.perf_counter() - started

    def _rows(self, customers: int, now: dt.datetime) -> Iterator[tuple[Any, ...]]:
        rng = random.Random(6)
        for i in range(1, customers + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            zone = rng.randrange(len(ZONES))
            email = f"{first}.{last}.{i}@mail.example".lower().replace("é", "e").replace("ü", "u")
            yield (i, email, first, last, ZONES[zone], COUNTRIES[zone], '{"source": "web"}', now)

    def _insert_sqlite(self, app: Lifetide, customers: int, now: dt.datetime) -> None:
        raw = app.ops_engine.raw_connection()
        try:
            cursor = raw.cursor()
            stamp = iso(now)
            batch: list[tuple[Any, ...]] = []
            for row in self._rows(customers, now):
                batch.append((*row[:-1], stamp, stamp))
                if len(batch) == 50_000:
                    self._sqlite_batch(cursor, batch, stamp)
                    batch = []
            if batch:
                self._sqlite_batch(cursor, batch, stamp)
            raw.commit()
        finally:
            raw.close()

    @staticmethod
    def _sqlite_batch(cursor: Any, batch: list[tuple[Any, ...]], stamp: str) -> None:
        cursor.executemany(
            "INSERT INTO customers (id, email, first_name, last_name, time_zone, country, "
            "traits, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
        cursor.executemany(
            "INSERT INTO identities (customer_id, kind, value, source, first_seen_at, "
            "last_seen_at) VALUES (?, 'user_id', ?, 'web', ?, ?)",
            [(r[0], f"u{r[0]}", stamp, stamp) for r in batch],
        )
        cursor.executemany(
            "INSERT INTO consents (customer_id, channel, purpose, status, source, updated_at) "
            "VALUES (?, 'email', 'marketing', 'granted', 'signup', ?)",
            [(r[0], stamp) for r in batch if r[0] % POOL_EVERY == 0],
        )

    def _copy_postgres(self, app: Lifetide, customers: int, now: dt.datetime) -> None:
        raw = app.ops_engine.raw_connection()
        try:
            pg: Any = raw.driver_connection
            with pg.cursor() as cursor:
                with cursor.copy(
                    "COPY customers (id, email, first_name, last_name, time_zone, country, "
                    "traits, created_at, updated_at) FROM STDIN"
                ) as copy:
                    for row in self._rows(customers, now):
                        copy.write_row((*row, now))
                with cursor.copy(
                    "COPY identities (customer_id, kind, value, source, first_seen_at, "
                    "last_seen_at) FROM STDIN"
                ) as copy:
                    for i in range(1, customers + 1):
                        copy.write_row((i, "user_id", f"u{i}", "web", now, now))
                with cursor.copy(
                    "COPY consents (customer_id, channel, purpose, status, source, updated_at) "
                    "FROM STDIN"
                ) as copy:
                    for i in range(POOL_EVERY, customers + 1, POOL_EVERY):
                        copy.write_row((i, "email", "marketing", "granted", "signup", now))
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('customers', 'id'), "
                    "(SELECT max(id) FROM customers))"
                )
                cursor.execute("ANALYZE customers; ANALYZE identities; ANALYZE consents")
            pg.commit()
        finally:
            raw.close()

    def build_warehouse(
        self, app: Lifetide, customers: int, products: int, now: dt.datetime
    ) -> None:
        """The warehouse half of `build`: catalog, events, recommendations."""
        con = app.warehouse.duckdb
        # Products are numbered (idx) so events join them on an integer: DuckDB joins on a
        # computed string key with a nested loop, which took minutes.
        con.execute(
            """
            CREATE TEMP TABLE _catalog AS
            SELECT i::INTEGER AS idx, printf('p%05d', i) AS product_id,
                   printf('SKU-%05d', i) AS sku,
                   list_element($adj, i % 12 + 1) || ' ' || list_element($noun, i // 12 % 10 + 1)
                     || ' No. ' || (i // 120 + 1) AS name,
                   list_element($cat, i % 5 + 1) AS category, NULL::VARCHAR AS subcategory,
                   list_element($brand, i % 8 + 1) AS brand,
                   (5 + (i * 7919 % 9500) / 100.0)::DECIMAL(18, 2) AS price,
                   list_element(['budget', 'mid', 'prestige'], i % 3 + 1) AS price_tier,
                   i % 4 = 0 AS replenishable,
                   CASE WHEN i % 4 = 0 THEN 60 END::INTEGER AS replenish_days,
                   TIMESTAMP '2025-01-01' AS launched_at,
                   printf('https://img.shop.example/products/p%05d.jpg', i) AS image_url,
                   printf('https://shop.example/products/p%05d', i) AS url
            FROM range(1, $products + 1) t(i)
            """,
            {
                "adj": ADJECTIVES,
                "noun": NOUNS,
                "cat": CATEGORIES,
                "brand": BRANDS,
                "products": products,
            },
        )
        con.execute("INSERT INTO products SELECT * EXCLUDE (idx) FROM _catalog")
        select_event = """
            SELECT {message_id}, 'track', '{event}', {at}, {at}, 'u' || c.pid, 'd' || c.pid,
                   p.product_id, p.category, p.brand, p.price, {quantity}, {cart},
                   NULL, NULL, NULL,
                   json_object('product_id', p.product_id, 'name', p.name, 'price', p.price,
                               'image_url', p.image_url, 'url', p.url, 'quantity', {quantity},
                               'cart_id', {cart}),
                   NULL, NULL
            FROM (SELECT *, (({product}) % $products + 1)::INTEGER AS idx FROM {source}) c
            JOIN _catalog p USING (idx)
            {where}
        """
        pool = "range($every, $customers + 1, $every) c(pid)"
        params = {
            "every": POOL_EVERY,
            "customers": customers,
            "products": products,
            "now": now.replace(tzinfo=None),
        }
        # Each pool customer's cart: 1 to 3 lines added two hours ago.
        con.execute(
            "INSERT INTO events "
            + select_event.format(
                message_id="'add-' || c.pid || '-' || c.j",
                event="Product Added",
                at="$now::TIMESTAMP - INTERVAL 2 HOUR + c.j * INTERVAL 1 MINUTE",
                quantity="(1 + c.j % 2)::INTEGER",
                cart="'cart-' || c.pid",
                source=f"{pool} CROSS JOIN range(3) j(j)",
                product="c.pid * 7 + j.j * 13",
                where="WHERE c.j <= c.pid // $every % 3",
            ),
            params,
        )
        con.execute(
            "INSERT INTO events "
            + select_event.format(
                message_id="'view-' || c.pid || '-' || c.j",
                event="Product Viewed",
                at="$now::TIMESTAMP - INTERVAL 3 HOUR + c.j * INTERVAL 5 MINUTE",
                quantity="NULL::INTEGER",
                cart="NULL::VARCHAR",
                source=f"{pool} CROSS JOIN range(3) j(j)",
                product="c.pid * 11 + j.j * 5",
                where="",
            ),
            params,
        )
        # Older browsing by everyone: the events table a cart's query has to search.
        con.execute(
            "INSERT INTO events "
            + select_event.format(
                message_id="'old-' || c.pid || '-' || c.j",
                event="Product Viewed",
                at="$now::TIMESTAMP - (1 + (c.pid * 7919 + c.j * 104729) % 2592000)"
                " * INTERVAL 1 SECOND",
                quantity="NULL::INTEGER",
                cart="NULL::VARCHAR",
                source="range(1, $customers + 1) c(pid) CROSS JOIN range(2) j(j)",
                product="c.pid * 2654435761 + j.j * 40503",
                where="",
            ),
            {k: v for k, v in params.items() if k != "every"},
        )
        con.execute(
            f"""
            CREATE OR REPLACE TABLE recommendations AS
            SELECT c.pid::BIGINT AS profile_id, (r.r + 1)::INTEGER AS rank,
                   printf('p%05d', (c.pid * 31 + r.r * 17) % $products + 1) AS product_id,
                   (1.0 - r.r / 20.0)::DOUBLE AS score, 'als' AS source
            FROM {pool} CROSS JOIN range({RECOMMENDED}) r(r)
            """,
            {"every": POOL_EVERY, "customers": customers, "products": products},
        )
        con.execute("DROP TABLE _catalog")
        con.execute("CHECKPOINT")

    def warehouse_counts(self, app: Lifetide) -> dict[str, int]:
        """Rows in the warehouse tables the e-mails read."""
        con = app.warehouse.duckdb
        return {
            name: int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
            for name in ("products", "events", "recommendations")
        }

    # -- work ----------------------------------------------------------------------------

    def open_waiting(self, app: Lifetide, wakes: dict[int, dt.datetime]) -> dict[int, int]:
        """Cart instances waiting at `wait_an_hour` until each profile's wake time; their ids."""
        rows = [
            {
                "journey_id": self.journey_id,
                "version": 1,
                "profile_id": pid,
                "instance_key": f"cart-{pid}",
                "status": "waiting",
                "step": "wait_an_hour",
                "visits": {"wait_an_hour": 1},
                "wake_at": wake,
                "entered_at": wake - dt.timedelta(hours=1),
                "step_started_at": wake - dt.timedelta(hours=1),
            }
            for pid, wake in wakes.items()
        ]
        with app.ops_engine.begin() as connection:
            for start in range(0, len(rows), 20_000):
                connection.execute(insert(JourneyInstance), rows[start : start + 20_000])
            found = connection.execute(
                select(JourneyInstance.profile_id, JourneyInstance.id).where(
                    JourneyInstance.journey_id == self.journey_id,
                    JourneyInstance.status != "done",
                    JourneyInstance.step == "wait_an_hour",
                )
            ).all()
        return {int(p): int(i) for p, i in found if p in wakes}

    def clear_journeys(self, app: Lifetide) -> None:
        """Remove every instance, send, input and code (between benchmarks)."""
        with app.ops_engine.begin() as connection:
            for table in (PromoCode, JourneySend, JourneyInput, JourneyInstance):
                connection.execute(delete(table))
        vacuum(app)


@contextmanager
def profiled(enabled: bool) -> Iterator[None]:
    """cProfile the block when enabled; the top functions go to stderr."""
    if not enabled:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(20)


def cpu_seconds(sink: Sink) -> dict[str, float]:
    """CPU seconds so far of this process (the dispatcher), its children, the sink, the rest.

    The children are the e-mail builder process (and multiprocessing's helpers); read before
    the builder is closed, since a process that has exited is no longer counted.
    """
    me = psutil.Process()
    others = 0.0
    for child in me.children(recursive=True):
        if child.pid == sink.process.pid:
            continue
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        others += times.user + times.system
    own = me.cpu_times()
    sink_times = psutil.Process(sink.process.pid).cpu_times()
    machine = psutil.cpu_times()
    return {
        "dispatcher": own.user + own.system,
        "builder": others,
        "sink": sink_times.user + sink_times.system,
        "postgres": _postgres_seconds(),
        # Every core's busy time, the kernel's and other processes' included: what a run
        # really costs the machine, where the three processes above are most of it.
        "machine": sum(machine) - machine.idle - getattr(machine, "iowait", 0.0),
    }


def _postgres_seconds() -> float:
    """CPU seconds of this machine's PostgreSQL processes alive now (0 where there are none).

    A backend that exits between two readings takes its seconds with it: an undercount.
    """
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        times = process.info["cpu_times"]
        if process.info["name"] in ("postgres", "postmaster") and times is not None:
            total += times.user + times.system
    return total


def say(message: str) -> None:
    """Progress on stderr (stdout carries the tables)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def count_sends(app: Lifetide, journey_id: int, status: str | None = None) -> int:
    """Outbox rows of the journey (with `status`)."""
    query = (
        select(func.count()).select_from(JourneySend).where(JourneySend.journey_id == journey_id)
    )
    if status is not None:
        query = query.where(JourneySend.status == status)
    with app.sessions() as session:
        return int(session.scalar(query) or 0)


def vacuum(app: Lifetide) -> None:
    """VACUUM ANALYZE the journey tables on PostgreSQL (between runs: fair to each)."""
    if app.ops_engine.dialect.name == "postgresql":
        with app.ops_engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE journey_instances, journey_sends, promo_codes")
            )


@contextmanager
def embedded_shop(workdir: Path, sink: Sink) -> Iterator[Shop]:
    """A shop on SQLite in a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="lifetide-journeys-", dir=workdir))
    try:
        yield Shop("embedded (SQLite ops, DuckDB warehouse)", folder, None, sink)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_shop(workdir: Path, sink: Sink, url: str) -> Iterator[Shop]:
    """A shop on PostgreSQL in a schema of its own (dropped afterwards); DuckDB warehouse."""
    schema = f"lt_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    folder = Path(tempfile.mkdtemp(prefix="lifetide-journeys-pg-", dir=workdir))
    sep = "&" if "?" in url else "?"
    try:
        yield Shop(
            "PostgreSQL ops, DuckDB warehouse",
            folder,
            f"{url}{sep}options=-csearch_path%3D{schema}",
            sink,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
