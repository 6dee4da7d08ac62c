"""What this process counts for `/metrics` (docs/operations.md, "Monitoring").

One registry per process: counters of what happened here (messages handled, sent, refused
with a 429, database errors) and whether this process runs the scheduler. What lives in the
database (queue depths, open rounds, answers per round) is not counted here but read at
scrape time (bot/service/monitoring.py), so every process reports the same figures for it.

Labels are channels, message kinds, error classes and a process name: never a worker, a
chat, a factory or a text. This module depends on nothing of ours, so every layer may count.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # process_cpu_seconds_total, process_resident_memory_bytes
PlatformCollector(registry=REGISTRY)  # python_info

MESSAGES_HANDLED = Counter(
    "wagecheck_messages_handled",
    "Worker messages handled by the survey service (a redelivery counts as a duplicate)",
    ["channel", "result"],  # result: ok | duplicate
    registry=REGISTRY,
)
MESSAGES_FAILED = Counter(
    "wagecheck_messages_failed",
    "Worker messages whose handling raised (the platform delivers them again)",
    ["channel"],
    registry=REGISTRY,
)
MESSAGES_SENT = Counter(
    "wagecheck_messages_sent",
    "Messages a platform accepted: replies to workers and broadcasts (reminders, invitations, "
    "status, reports)",
    ["channel", "kind"],  # kind: reply | reminder | invitation | status | report
    registry=REGISTRY,
)
SEND_FAILURES = Counter(
    "wagecheck_send_failures",
    "Sends that raised (replies given back or in doubt; broadcasts retried, failed, in doubt)",
    ["channel", "kind"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "wagecheck_rate_limited",
    "Rate-limit answers from a platform that were waited out (Telegram 429, WhatsApp 130429 "
    "and 131056)",
    ["channel"],
    registry=REGISTRY,
)
BROADCASTS_UNDELIVERABLE = Counter(
    "wagecheck_broadcasts_undeliverable",
    "Broadcast rows marked failed because their stored address could not be decrypted",
    ["kind"],
    registry=REGISTRY,
)
DATABASE_ERRORS = Counter(
    "wagecheck_database_errors",
    "Errors the database driver raised, by SQLAlchemy class (IntegrityError is mostly a "
    "redelivered message or a race that was retried; OperationalError and InterfaceError "
    "are the database being unreachable, locked or restarting)",
    ["error"],
    registry=REGISTRY,
)
SCHEDULER_LEASE_HELD = Gauge(
    "wagecheck_scheduler_lease_held",
    "1 while this process runs the scheduler's jobs, else 0",
    registry=REGISTRY,
)
SCHEDULER_HOLDER = Gauge(
    "wagecheck_scheduler_holder_info",
    "The process (host:pid) running the scheduler's jobs; present only in that process",
    ["holder"],
    registry=REGISTRY,
)
SCHEDULER_LEASE_HELD.set(0)
_holders: set[str] = set()


def scheduler_started(holder: str) -> None:
    """This process now runs the scheduler's jobs."""
    _holders.add(holder)
    SCHEDULER_HOLDER.labels(holder).set(1)
    SCHEDULER_LEASE_HELD.set(1)


def scheduler_stopped(holder: str) -> None:
    """This process no longer runs them (the holder's series goes away)."""
    if holder in _holders:
        _holders.discard(holder)
        SCHEDULER_HOLDER.remove(holder)
    SCHEDULER_LEASE_HELD.set(1 if _holders else 0)
