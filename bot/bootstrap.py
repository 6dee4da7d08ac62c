"""Wire the pieces together: settings -> database, catalogs, wage table, engines, services."""

from __future__ import annotations

import json
import logging
import os
import secrets
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url
from starlette.routing import Route

from bot.clock import Clock, utc_now
from bot.config import Settings, StartupError
from bot.health import metrics_route
from bot.i18n import Catalogs
from bot.privacy import Keyring
from bot.privacy.keys import KeyFileError, format_secrets, parse_secrets
from bot.service import keys
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
from bot.storage.database import migration_sql, pending_migrations
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

    def broadcaster(
        self, senders: Sequence[BroadcastSender], holder: str | None = None
    ) -> Broadcaster:
        """The outbox's sender for the channels given (each process has its own clients)."""
        return Broadcaster(
            self.db,
            self.keyring,
            self.catalogs,
            senders,
            self.quiet,
            clock=self.clock,
            holder=holder,
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
    settings.check()
    catalogs = Catalogs.load(settings.locales_dir)
    wages = WageTable.load(settings.surveys_dir / settings.wage_table)
    survey = load_default_survey(settings, catalogs, wages)
    engines = EngineRegistry(survey, wages, catalogs, EngineOptions(time_zone=settings.time_zone))
    db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
    try:
        try:
            if upgrade:
                await db.upgrade()
        except Exception as exc:
            problem = connection_problem(exc, settings)
            if problem is None:
                raise
            raise StartupError(problem) from exc
        keyring = await resolve_keyring(settings, db, clock)
    except BaseException:
        await db.dispose()
        raise
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


async def upgrade_plan(
    settings: Settings, *, sql: bool = False
) -> tuple[str | None, list[tuple[str, str]], str | None]:
    """`wagecheck db upgrade --dry-run`: the current revision, the migrations pending and
    (with `sql`) their SQL. Nothing is changed: no migration, no key."""
    db = Database(settings.effective_database_url)
    try:
        current, pending = await pending_migrations(db.engine)
        text = migration_sql(db.engine.dialect.name, current) if sql and pending else None
    finally:
        await db.dispose()
    return current, pending, text


def connection_problem(exc: BaseException, settings: Settings) -> str | None:
    """One line for a database that cannot be reached or refuses us; None for other errors."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 6:
        chain.append(current)
        current = current.__cause__ or current.__context__
    names = {type(e).__name__ for e in chain}
    shown = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    if names & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return (
            f"the database at {shown} refused the user or password in WAGECHECK_DATABASE_URL "
            "(postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE)"
        )
    if "InvalidCatalogNameError" in names:
        return f"the database named in WAGECHECK_DATABASE_URL ({shown}) does not exist: create it"
    if any(isinstance(e, OSError | TimeoutError) for e in chain):
        return (
            f"cannot reach the database at {shown} (WAGECHECK_DATABASE_URL): is the server "
            "running and the host and port right?"
        )
    return None


async def resolve_keyring(settings: Settings, db: Database, clock: Clock) -> Keyring:
    """The instance's keyring, checked against the fingerprints in the database.

    No key file (and no WAGECHECK_SECRET_KEY): a key is generated only when the database
    holds nothing made with a key (a new instance: `wagecheck init`, or whichever command
    starts first on an empty database); otherwise start-up is refused, because a new key
    would split every worker's conversation and make every stored address unreadable."""
    text, keyed = settings.secret_key_text(), False
    if text is None:
        keyed = await keys.holds_keyed_data(db)
        # Several processes starting at once on a new instance: another one may have made the
        # key (and recorded its fingerprint) since we looked. Its file is the key to use.
        text = settings.secret_key_text()
    if text is None:
        if keyed:
            stored = await keys.stored_fingerprints(db)
            fp = stored[1][0][:12] if 1 in stored else "not yet recorded"
            raise StartupError(
                f"the secret key file {settings.key_file} is missing, but the database "
                f"holds data written with a key (fingerprint {fp}): put that key file back "
                f"there ({keys.RESTORE_HINT}); a new key would make every stored address "
                "unreadable and count workers twice"
            )
        settings.create_secret_file()
        text = settings.secret_key_text()
        assert text is not None
    try:
        keyring = Keyring(parse_secrets(text))
    except KeyFileError as exc:
        source = settings.key_source
        raise StartupError(f"the secret key in {source} is not usable: {exc}") from None
    try:
        await keys.check_and_record(db, keyring, settings.key_source, clock)
    except StartupError as exc:
        staged = settings.key_file.with_name(settings.key_file.name + ".new")
        if staged.exists():  # a rotation stopped between the database and the file
            raise StartupError(
                f"{exc} — {staged} holds the keyring of an unfinished `wagecheck keys rotate`: "
                f"check it and move it to {settings.key_file}"
            ) from None
        raise
    return keyring


async def rotate_key(app: App) -> tuple[keys.Rotation, Path]:
    """`wagecheck keys rotate`: a new key version, written with the old ones, and the
    database moved to it (keys.rotate). Crash-safe in this order: the new keyring is written
    to secret.key.new first, the database commits, then the file replaces secret.key. Until
    that last step a start is refused, and the message names the .new file.

    With WAGECHECK_SECRET_KEY set, the new keyring is left in secret.key.new (returned) for
    the operator to put into the setting: the setting cannot be written from here."""
    settings = app.settings
    text = settings.secret_key_text()
    assert text is not None  # the app was built with it
    versions = parse_secrets(text)
    versions[max(versions) + 1] = secrets.token_urlsafe(48).encode()
    new = Keyring(versions)
    staged = settings.key_file.with_name(settings.key_file.name + ".new")
    staged.unlink(missing_ok=True)
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(format_secrets(versions))
        fh.flush()
        os.fsync(fh.fileno())
    try:
        rotation = await keys.rotate(app.db, app.keyring, new, app.clock)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    if settings.secret_key is not None:
        return rotation, staged
    os.replace(staged, settings.key_file)
    return rotation, settings.key_file


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


# ------------------------------------------------------------------ wagecheck config --check
@dataclass(frozen=True)
class Check:
    """One line of `wagecheck config --check`: what was checked, its outcome (ok, FAIL, or
    "could not check" when the other side could not be reached) and what was found."""

    name: str
    outcome: str  # "ok" | "FAIL" | "could not check" | "not set"
    detail: str

    @property
    def failed(self) -> bool:
        return self.outcome == "FAIL"


CHECK_TIMEOUT = 5.0


async def check_instance(settings: Settings) -> list[Check]:
    """Every check an operator wants before starting the processes; changes nothing (no
    migration, no key made)."""
    out: list[Check] = []
    try:
        settings.check()
        out.append(Check("settings", "ok", "database URL, home folder, token format"))
    except StartupError as exc:
        out.append(Check("settings", "FAIL", str(exc)))
    out.extend(await _check_database_and_key(settings))
    out.append(await _check_telegram_token(settings))
    out.append(_check_webhook_url(settings))
    return out


async def _check_database_and_key(settings: Settings) -> list[Check]:
    shown = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    try:
        db = Database(settings.effective_database_url)
    except Exception as exc:
        return [Check("database", "FAIL", f"{shown}: {type(exc).__name__}: {exc}")]
    try:
        try:
            current, pending = await pending_migrations(db.engine)
        except Exception as exc:
            problem = connection_problem(exc, settings) or f"{type(exc).__name__}: {exc}"
            return [Check("database", "FAIL", problem.splitlines()[0])]
        if pending:
            revision = Check(
                "database",
                "FAIL",
                f"{shown} reachable, at revision {current or '(empty)'}: {len(pending)} "
                "migration(s) to apply — run `wagecheck db upgrade` (back up first)",
            )
        else:
            revision = Check("database", "ok", f"{shown} reachable, schema current ({current})")
        return [revision, await _check_key(settings, db)]
    finally:
        await db.dispose()


async def _check_key(settings: Settings, db: Database) -> Check:
    try:
        text = settings.secret_key_text()
    except StartupError as exc:
        return Check("key", "FAIL", str(exc))
    stored = await keys.stored_fingerprints(db)
    if text is None:
        if stored or await keys.holds_keyed_data(db):
            return Check("key", "FAIL", f"{settings.key_file} is missing: {keys.RESTORE_HINT}")
        return Check("key", "ok", f"none yet: the first start makes {settings.key_file}")
    try:
        keyring = Keyring(parse_secrets(text))
    except KeyFileError as exc:
        return Check("key", "FAIL", f"the secret key in {settings.key_source}: {exc}")
    problem = keys.mismatch(settings.key_source, stored, keyring)
    if problem:
        return Check("key", "FAIL", problem)
    if not stored:
        return Check("key", "ok", f"{settings.key_source} (no fingerprint recorded yet)")
    return Check("key", "ok", f"{settings.key_source} matches the database's fingerprint")


async def _check_telegram_token(settings: Settings) -> Check:
    import httpx  # only here: the check is the one place bootstrap talks to a platform

    if settings.telegram_token is None:
        return Check("telegram token", "not set", "WAGECHECK_TELEGRAM_TOKEN")
    token = settings.telegram_token.get_secret_value()
    url = f"{settings.telegram_api_url.rstrip('/')}/bot{token}/getMe"
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as client:
            answer = await client.get(url)
    except httpx.HTTPError as exc:
        return Check(
            "telegram token",
            "could not check",
            f"{settings.telegram_api_url} did not answer ({type(exc).__name__})",
        )
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if answer.status_code == 200 and body.get("ok"):
        name = (body.get("result") or {}).get("username", "?")
        return Check("telegram token", "ok", f"accepted by Telegram: @{name}")
    if answer.status_code in (401, 404):
        return Check(
            "telegram token",
            "FAIL",
            "Telegram refused WAGECHECK_TELEGRAM_TOKEN (401 Unauthorized): copy it again from "
            "@BotFather (/mybots → API Token)",
        )
    return Check(
        "telegram token",
        "could not check",
        f"{settings.telegram_api_url} answered {answer.status_code}",
    )


def _check_webhook_url(settings: Settings) -> Check:
    url = settings.telegram_webhook_url
    if not url:
        return Check("telegram webhook", "not set", "WAGECHECK_TELEGRAM_WEBHOOK_URL (long polling)")
    parts = urlsplit(url)
    if parts.scheme == "https":
        return Check("telegram webhook", "ok", url)
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return Check("telegram webhook", "ok", f"{url} (plain http to this machine: tests only)")
    return Check(
        "telegram webhook",
        "FAIL",
        f"{url}: Telegram sends webhooks only over HTTPS (e.g. https://bot.example.org/telegram)",
    )
