"""The demo's jobs: a changing upstream shop database, synced incrementally into a replica."""

from __future__ import annotations

import os
import random
import sqlite3
import time
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Mapping

BATCH_SIZE = 20
SEED_ORDERS = 300
# Seconds a run takes at SYNCTUI_DEMO_SPEED=1: long enough to watch it in the console.
SYNC_SECONDS = 3.0
REPORT_SECONDS = 1.0
# About one run in six fails, chosen by run id so a test can pick a failing one.
FAILING_EVERY = 6

_CUSTOMERS = (
    "Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances",
    "Guido", "Radia", "Edsger", "Hedy", "Alan", "Katherine", "Niklaus", "Joan",
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    customer TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    updated_at TEXT NOT NULL  -- ISO 8601 UTC, fixed width, so text order is time order
)
"""
_UPSERT = """
INSERT INTO orders (id, customer, amount_cents, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    customer = excluded.customer,
    amount_cents = excluded.amount_cents,
    updated_at = excluded.updated_at
"""


def sync_orders(context: Mapping[str, str]) -> None:
    """Copy the orders changed upstream since the last successful run into the replica.

    Args:
        context: The run's `SYNCTUI_*` values; `SYNCTUI_LAST_SUCCESS_AT` is empty
            on the first run, which copies everything.

    Raises:
        ConnectionError: On the simulated failing runs, after some batches are in.
    """
    run_id = int(context.get("SYNCTUI_RUN_ID") or 0)
    last_success = context.get("SYNCTUI_LAST_SUCCESS_AT", "")
    since = _utc_text(last_success) if last_success else ""
    folder = _demo_dir()
    with closing(_open(folder / "source.db")) as source:
        _seed(source)
        _simulate_upstream(source, random.Random(run_id))
        _pause(SYNC_SECONDS * 0.2)  # the upstream API is not instant
        rows = source.execute(
            "SELECT id, customer, amount_cents, updated_at FROM orders"
            " WHERE updated_at >= ? ORDER BY updated_at, id",
            (since,),
        ).fetchall()
    if since:
        _say(f"fetched {len(rows)} changed orders since {since}")
    else:
        _say(f"fetched {len(rows)} orders (first sync: copying everything)")

    batches = [rows[i:i + BATCH_SIZE] for i in range(0, len(rows), BATCH_SIZE)]
    failing_batch = len(batches) // 2 + 1 if run_id % FAILING_EVERY == FAILING_EVERY - 1 else 0
    with closing(_open(folder / "replica.db")) as replica:
        for number, batch in enumerate(batches, start=1):
            with _transaction(replica):
                replica.executemany(_UPSERT, batch)
                _pause(SYNC_SECONDS * 0.8 / len(batches))
                if number == failing_batch:
                    # Raised inside the transaction: this batch is rolled back, and
                    # last success does not move, so the next run copies it again.
                    raise ConnectionError("upstream shop API timed out (simulated)")
            _say(f"batch {number}/{len(batches)}: upserted {len(batch)} rows")
        (count,) = replica.execute("SELECT count(*) FROM orders").fetchone()
    _say(f"replica now holds {count} orders")


def report() -> None:
    """Print a short summary of the replica: how many orders, the newest change, the total."""
    with closing(_open(_demo_dir() / "replica.db")) as replica:
        _pause(REPORT_SECONDS / 2)
        count, newest, total = replica.execute(
            "SELECT count(*), max(updated_at), coalesce(sum(amount_cents), 0) FROM orders"
        ).fetchone()
    _pause(REPORT_SECONDS / 2)
    if not count:
        _say("replica holds 0 orders: the orders job has not synced yet")
        return
    _say(f"replica holds {count} orders worth ${total / 100:,.2f}")
    _say(f"newest change: {newest}")


def _demo_dir() -> Path:
    folder = os.environ.get("SYNCTUI_DEMO_DIR")
    if not folder:
        raise RuntimeError("SYNCTUI_DEMO_DIR is not set: the demo's jobs run from `synctui --demo`")
    return Path(folder)


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit, with explicit transactions below; WAL lets the report read while
    # a sync writes.
    connection = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(_SCHEMA)
    return connection


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """All of the block's writes, or none of them."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _seed(source: sqlite3.Connection) -> None:
    """Fill an empty upstream with a week of orders (first use only)."""
    with _transaction(source):
        if source.execute("SELECT count(*) FROM orders").fetchone()[0]:
            return
        rng = random.Random(0)
        now = datetime.now(timezone.utc)
        rows = [
            (
                rng.choice(_CUSTOMERS),
                rng.randint(500, 25_000),
                _utc_text(now - timedelta(seconds=rng.uniform(60, 7 * 86_400))),
            )
            for _ in range(SEED_ORDERS)
        ]
        source.executemany(
            "INSERT INTO orders (customer, amount_cents, updated_at) VALUES (?, ?, ?)", rows
        )
    _say(f"created the upstream shop with {SEED_ORDERS} orders")


def _simulate_upstream(source: sqlite3.Connection, rng: random.Random) -> None:
    """Customers keep ordering and amending orders, so every run has something to copy."""
    now = _utc_text(datetime.now(timezone.utc))
    with _transaction(source):
        (highest,) = source.execute("SELECT max(id) FROM orders").fetchone()
        amended = rng.sample(range(1, highest + 1), k=min(highest, rng.randint(5, 12)))
        source.executemany(
            "UPDATE orders SET amount_cents = ?, updated_at = ? WHERE id = ?",
            [(rng.randint(500, 25_000), now, order) for order in amended],
        )
        placed = rng.randint(3, 8)
        source.executemany(
            "INSERT INTO orders (customer, amount_cents, updated_at) VALUES (?, ?, ?)",
            [(rng.choice(_CUSTOMERS), rng.randint(500, 25_000), now) for _ in range(placed)],
        )
    _say(f"upstream shop: {placed} new orders, {len(amended)} amended")


def _utc_text(moment: datetime | str) -> str:
    """A moment as fixed-width UTC ISO text, the form `updated_at` is compared in."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _pause(seconds: float) -> None:
    """Sleep `seconds` scaled by `SYNCTUI_DEMO_SPEED` (0 makes the demo instant, for tests)."""
    speed = max(0.0, float(os.environ.get("SYNCTUI_DEMO_SPEED") or 1.0))
    if seconds * speed > 0:
        time.sleep(seconds * speed)


def _say(line: str) -> None:
    # Flushed so the console shows each line as it happens, even when run by hand.
    print(line, flush=True)
