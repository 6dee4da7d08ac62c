"""Wire the pieces together: settings -> database, catalogs, wage table, engines, services."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.routing import Route

from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.health import metrics_route
from bot.i18n import Catalogs
from bot.privacy import Keyring
from bot.service.accounts import AccountService
from bot.service.admin import AdminService
from bot.service.api_tokens import ApiTokenService
from bot.service.broadcasts import Broadcaster, BroadcastSender, QuietHours
from bot.service.contacts import Contacts
from bot.service.engines import EngineRegistry
from bot.service.inbound import SurveyService
from bot.service.members import MemberService
from bot.service.monitoring import Monitoring
from bot.storage import Database
from bot.survey.definition import Survey, load_survey
from bot.survey.engine import EngineOptions
from bot.survey.limits import check_channel_limits
from bot.wages import WageTable


@dataclass
class App:
    """Everything a channel, the command line or a test needs, built once."""

    settings: Settings
    db: Database
    catalogs: Catalogs
    wages: WageTable
    survey: Survey
    engines: EngineRegistry
    keyring: Keyring
    clock: Clock
    service: SurveyService
    admin: AdminService
    members: MemberService
    accounts: AccountService
    tokens: ApiTokenService
    contacts: Contacts
    monitoring: Monitoring

    @property
    def quiet(self) -> QuietHours:
        """When no message goes to a worker, in the factories' time zone."""
        s = self.settings
        return QuietHours(s.quiet_hours_start, s.quiet_hours_end, ZoneInfo(s.time_zone))

    def broadcaster(self, senders: Sequence[BroadcastSender]) -> Broadcaster:
        """The outbox's sender for the channels given (each process has its own clients)."""
        return Broadcaster(
            self.db, self.keyring, self.catalogs, senders, self.quiet, clock=self.clock
        )

    def metrics_route(self) -> Route:
        """`GET /metrics` for this process's HTTP servers (behind WAGECHECK_METRICS_TOKEN)."""
        return metrics_route(self.settings.metrics_token, self.monitoring.exposition)

    async def close(self) -> None:
        await self.db.dispose()


def load_default_survey(settings: Settings, catalogs: Catalogs, wages: WageTable) -> Survey:
    """The configured survey, validated against the wage table's grades and against every
    channel's limits in every language."""
    path = settings.surveys_dir / f"{settings.survey}.yaml"
    survey = load_survey(path)
    survey.check_grades(wages.grades, str(path))
    check_channel_limits(survey, catalogs, source=str(path))
    return survey


async def build_app(
    settings: Settings | None = None,
    *,
    upgrade: bool = True,
    actor: str = "cli",
    clock: Clock = utc_now,
) -> App:
    """Build the application; on an empty or old database, run the migrations first. This
    is the composition root: every service is built here, once, with the one clock."""
    settings = settings or Settings()
    catalogs = Catalogs.load(settings.locales_dir)
    wages = WageTable.load(settings.surveys_dir / settings.wage_table)
    survey = load_default_survey(settings, catalogs, wages)
    engines = EngineRegistry(survey, wages, catalogs, EngineOptions(time_zone=settings.time_zone))
    keyring = Keyring(settings.secret_key_bytes())
    db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
    if upgrade:
        await db.upgrade()
    return App(
        settings=settings,
        db=db,
        catalogs=catalogs,
        wages=wages,
        survey=survey,
        engines=engines,
        keyring=keyring,
        clock=clock,
        service=SurveyService(db, engines, keyring, clock=clock),
        admin=AdminService(
            db,
            actor=actor,
            processed_message_days=settings.processed_message_days,
            opt_in_days=settings.opt_in_days,
            clock=clock,
        ),
        members=MemberService(db, keyring, actor, clock=clock),
        accounts=AccountService(db, keyring, actor, clock=clock),
        tokens=ApiTokenService(db, clock=clock),
        contacts=Contacts(db, keyring),
        monitoring=Monitoring(db, clock=clock),
    )


class _KeyValueFormatter(logging.Formatter):
    """One line per event, key=value; messages never carry names, numbers or chat ids.

    An exception is logged by its type(s) and the frames it passed (file:line function), not
    by its message: messages can hold what must not be logged (SQL parameters with answers or
    keys, URLs with the bot token, a phone number in a Graph API error)."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"time={self.formatTime(record)} level={record.levelname} "
            f'logger={record.name} msg="{record.getMessage()}"'
        )
        if record.exc_info and record.exc_info[1] is not None:
            line += " " + _exception_fields(record.exc_info[1])
        return line


class _JsonFormatter(logging.Formatter):
    """`WAGECHECK_LOG_FORMAT=json`: one JSON object a line, for a log collector. The same
    content as the key=value lines — the message (which by our rule carries no text, id or
    secret), the exception's types and frames, never its message — plus the process id and
    the extras in SAFE_EXTRAS; nothing else a record carries is copied."""

    SAFE_EXTRAS = frozenset({"channel", "kind", "status", "round_id", "broadcast_id", "count"})

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for name in self.SAFE_EXTRAS:
            value = record.__dict__.get(name)
            if isinstance(value, bool | int | float) or (
                isinstance(value, str) and len(value) < 40
            ):
                entry[name] = value
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"], entry["where"] = _exception_chain(record.exc_info[1])
        return json.dumps(entry, ensure_ascii=False)


def _exception_chain(exc: BaseException) -> tuple[str, str]:
    """`Type<-CauseType` and `file:line func < caller ...`: each exception's frames, where it
    was raised first, the outermost exception's first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 5:
        chain.append(current)
        current = current.__cause__ or current.__context__
    frames = [f for e in chain for f in reversed(traceback.extract_tb(e.__traceback__))][:10]
    where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames)
    return "<-".join(type(e).__name__ for e in chain), where


def _exception_fields(exc: BaseException) -> str:
    """`error=Type<-CauseType where="file:line func < caller ..."`."""
    error, where = _exception_chain(exc)
    return f'error={error} where="{where}"'


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    """Log lines to stderr: key=value (`text`) or one JSON object a line (`json`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(_JsonFormatter() if log_format == "json" else _KeyValueFormatter())
    # Python's warnings become log lines too, so that every line has the one format.
    logging.captureWarnings(log_format == "json")
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # SQL echo would print parameters, which may include answers — and so, at DEBUG, would
    # the drivers (aiosqlite logs every statement with its parameters); httpx logs every
    # request URL, and Bot API URLs contain the bot token; python-multipart logs form fields.
    for noisy in (
        "sqlalchemy",
        "aiosqlite",
        "asyncpg",
        "httpx",
        "httpcore",
        "telegram",
        "apscheduler",
        "multipart",
        "python_multipart",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
