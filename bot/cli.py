"""The `wagecheck` command line (Typer + Rich)."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from bot.bootstrap import (
    App,
    build_app,
    check_instance,
    configure_logging,
    rotate_key,
    upgrade_plan,
)
from bot.channels.senders import configured_senders
from bot.channels.telegram import TelegramChannel, run_polling, run_webhook, webhook_app
from bot.channels.telegram.adapter import bot_username
from bot.channels.terminal import TerminalChat
from bot.channels.whatsapp import WhatsAppChannel, serve
from bot.clock import Clock, SetClock, utc_now
from bot.config import Settings, StartupError, mask_url
from bot.demo import BRANDS, CSO, ROUNDS, open_round, set_up, simulate
from bot.posters import deep_link, poster_links, render_poster, wa_link
from bot.reports import build_report, compute_round_results, write_reports
from bot.reports.build import verdict_rule
from bot.reports.cli import register as register_reports
from bot.reports.model import VerdictRule
from bot.reports.targets import target
from bot.scheduler.runner import run_until_stopped, running_scheduler
from bot.service import backup as backups
from bot.service.admin import AdminError
from bot.service.broadcasts import outbox_counts, queue_due_reminders
from bot.service.rounds import default_help_texts, stale_wage_text
from bot.survey.definition import SurveyError
from bot.wages import WageTable, WageTableError, fiscal_year_start
from bot.web.server import (
    DEFAULT_WEB_LISTEN,
    metrics_app,
    parse_listen,
    run_together,
    serve_asgi,
    serve_web,
)

app = typer.Typer(
    help="WageCheck: did the legal minimum wage reach the workers?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
factory_app = typer.Typer(help="Factories.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations: CSOs and brands.", no_args_is_help=True)
round_app = typer.Typer(help="Survey rounds.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(factory_app, name="factory")
app.add_typer(org_app, name="org")
app.add_typer(round_app, name="round")
portal_app = typer.Typer(help="The web portal: accounts and invites.", no_args_is_help=True)
app.add_typer(portal_app, name="portal")
keys_app = typer.Typer(help="The instance key (docs/operations.md 'Keys').", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
wages_app = typer.Typer(help="The legal minimum-wage table.", no_args_is_help=True)
app.add_typer(wages_app, name="wages")
_KARACHI = ZoneInfo("Asia/Karachi")  # the wage tables' fiscal years turn in Pakistan

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _run(
    work: Callable[[App], Awaitable[T]],
    settings: Settings | None = None,
    clock: Clock = utc_now,
) -> T:
    """Build the app, run one piece of work, close it; AdminError becomes a clean exit."""

    async def main() -> T:
        application = await build_app(settings, clock=clock)
        try:
            return await work(application)
        finally:
            await application.close()

    try:
        return asyncio.run(main())
    except AdminError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except StartupError as exc:
        fail(str(exc))
    except (SurveyError, WageTableError) as exc:
        fail(f"{str(exc).splitlines()[0]} (WAGECHECK_SURVEY / WAGECHECK_WAGE_TABLE files)")


DEBUG = {"on": False}


def fail(line: str) -> NoReturn:
    """One line on stderr and exit code 2; with --debug the traceback too (when there is one)."""
    if DEBUG["on"] and sys.exc_info()[0] is not None:
        err.print_exception()
    err.print(f"[red]error:[/red] {line}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.callback()
def _main(
    log_level: Annotated[
        str | None, typer.Option(help="logging level (default: WAGECHECK_LOG_LEVEL)")
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="show tracebacks of start-up errors")
    ] = False,
) -> None:
    DEBUG["on"] = debug
    settings = Settings()
    configure_logging(log_level or settings.log_level, settings.log_format)


@app.command()
def init() -> None:
    """Create the home folder, the secret key and the database."""
    settings = Settings()

    async def work(a: App) -> None:
        console.print(f"home: {settings.home.resolve()}")
        console.print(f"database: {mask_url(a.db.url)} (schema current: {await a.db.is_current()})")

    _run(work, settings)


@app.command()
def config(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="check instead: database reachable and current, key matches, Telegram "
            "accepts the token, webhook URL https (exit code 2 when any fails)",
        ),
    ] = False,
) -> None:
    """Print the effective configuration (secrets masked), or check it (--check)."""
    if check:
        results = asyncio.run(check_instance(Settings()))
        for c in results:
            console.print(
                f"{c.outcome:<15} {c.name}: {c.detail}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if any(c.failed for c in results):
            raise typer.Exit(2)
        return
    table = Table("setting", "value", title="WageCheck configuration")
    for name, value in Settings().masked().items():
        table.add_row(f"WAGECHECK_{name.upper()}", value)
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the migrations it would apply; change nothing")
    ] = False,
    sql: Annotated[bool, typer.Option("--sql", help="with --dry-run: and their SQL")] = False,
) -> None:
    """Apply pending migrations (back up first: wagecheck backup)."""
    if dry_run:
        try:
            current, pending, text = asyncio.run(upgrade_plan(Settings(), sql=sql))
        except StartupError as exc:
            fail(str(exc))
        console.print(f"database at revision {current or '(empty: no schema)'}")
        if not pending:
            console.print("nothing to apply: the schema is current")
        for revision, doc in pending:
            console.print(f"would apply {revision}: {doc}", markup=False, highlight=False)
        if text:
            print(text)
        return

    async def work(a: App) -> None:
        console.print(f"schema is current: {await a.db.is_current()}")

    _run(work)


# ------------------------------------------------------------------ backups
PASSPHRASE_ENV = "WAGECHECK_BACKUP_PASSPHRASE"
PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        help=f"read the passphrase from this file (else ${PASSPHRASE_ENV}, else a prompt)"
    ),
]


def _passphrase(path: Path | None, *, confirm: bool) -> str:
    """From a file, the environment, or a prompt; never from the command line (it would show
    in the shell's history and in the process list)."""
    if path is not None:
        try:
            return path.read_text().rstrip("\n")
        except OSError as exc:
            fail(f"cannot read the passphrase file {path}: {exc.strerror}")
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        fail(f"no passphrase: give --passphrase-file or set {PASSPHRASE_ENV}")
    return str(typer.prompt("passphrase", hide_input=True, confirmation_prompt=confirm))


def _progress_bar() -> tuple[Progress, Callable[[str, int, int], None]]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def update(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = bar.add_task(step, total=total or None)
        bar.update(tasks[step], completed=done, total=total or None)

    return bar, update


@app.command("backup")
def backup_command(
    out: Annotated[
        Path, typer.Argument(help="the archive to write, e.g. wagecheck-2026-12-20.wcb")
    ],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Back up the database and the secret key together, in one archive encrypted with a
    passphrase (docs/operations.md "Backups and restore"). Keep the passphrase apart from it."""
    phrase = _passphrase(passphrase_file, confirm=True)
    bar, update = _progress_bar()

    async def work(a: App) -> backups.BackupResult:
        with bar:
            return await backups.backup(a.settings, a.db, out, phrase, a.clock, update)

    result = _run(work)
    console.print(
        f"backup written to {result.path} ({result.size / 1e6:.1f} MB, {result.backend}, "
        f"schema {result.revision}, {result.rows.get('answers', 0)} answers)"
    )


@app.command("restore")
def restore_command(
    archive: Annotated[Path, typer.Argument(help="an archive written by wagecheck backup")],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Restore a backup into this instance, which must be new and empty; then check that the
    answers are there, the key matches and every kept address can be decrypted."""
    if not archive.is_file():
        fail(f"no archive at {archive}")
    phrase = _passphrase(passphrase_file, confirm=False)
    settings = Settings()
    bar, update = _progress_bar()

    async def main() -> backups.RestoreResult:
        with bar:
            return await backups.restore_instance(settings, archive, phrase, utc_now, update)

    try:
        result = asyncio.run(main())
    except StartupError as exc:
        fail(str(exc))
    console.print(
        f"restored: {result.backend} database at schema {result.revision}, "
        f"{result.answers} answers, {result.addresses} contact/member address(es) readable, "
        f"key {', '.join(f'v{v} {fp[:12]}' for v, fp in result.fingerprints.items())}"
    )
    if result.unreadable:
        fail(f"{result.unreadable} address(es) could not be decrypted with the restored key")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new key version: rounds created from now on use it for pseudonyms; every kept
    contact address is re-encrypted under it. Stop every wagecheck process first, and back up
    the key file afterwards (it now holds both versions)."""

    async def work(a: App) -> tuple[Any, Path]:
        return await rotate_key(a)

    rotation, path = _run(work)
    console.print(
        f"key version {rotation.version} added; rounds from id {rotation.rounds_from} use it. "
        f"{rotation.addresses} contact address(es) and {rotation.members} member(s) moved to it"
        + (f"; {rotation.unreadable} address(es) could not be read" if rotation.unreadable else "")
    )
    if path.name.endswith(".new"):
        console.print(
            f"WAGECHECK_SECRET_KEY is set: put the content of {path} into it (all lines), "
            "then delete the file. Until then no process starts."
        )
    else:
        console.print(f"the keyring is in {path}: back it up now (docs/operations.md 'Keys')")


@keys_app.command("show")
def keys_show() -> None:
    """The key versions and their fingerprints (never the key)."""

    async def work(a: App) -> dict[int, str]:
        return a.keyring.fingerprints()

    for version, fp in _run(work).items():
        console.print(f"version {version}: fingerprint {fp[:12]}")


# ------------------------------------------------------------------ organisations
@org_app.command("add")
def org_add(name: str, kind: Annotated[str, typer.Option(help="cso or brand")] = "cso") -> None:
    """Register a CSO or a brand."""
    _run(lambda a: a.admin.add_org(name, kind))
    console.print(f"added {kind} {name!r}")


@org_app.command("short-name")
def org_short_name(
    name: str,
    short_name: Annotated[
        str | None, typer.Argument(help="at most 40 characters; leave out to use the full name")
    ] = None,
) -> None:
    """How reminders and invitations name a CSO to workers. A supervisor may read a worker's
    notifications: choose a short, neutral name (e.g. "LRF", not "Wage Rights Campaign")."""
    _run(lambda a: a.admin.set_short_name(name, short_name))
    shown = repr(short_name) if short_name else "its full name"
    console.print(f"reminders and invitations from {name!r} now name it {shown}")


@org_app.command("list")
def org_list() -> None:
    """List organisations."""
    orgs = _run(lambda a: a.admin.list_orgs())
    table = Table("id", "name", "short name", "kind")
    for o in orgs:
        table.add_row(str(o.id), o.name, o.short_name or "", o.kind)
    console.print(table)


@org_app.command("link")
def org_link(
    brand: str,
    factories: list[str],
    cso: Annotated[
        str | None,
        typer.Option(help="the brand receives only this CSO's results of these factories"),
    ] = None,
) -> None:
    """Link a brand to the factories it sources from: it receives their results of every
    CSO's rounds (a factory of the shared register), of the CSO that registered them (a CSO's
    own factory), or, with --cso, of that CSO's rounds only."""
    added = _run(lambda a: a.admin.link(brand, factories, cso=cso))
    console.print(f"{added} new link(s) for {brand!r}")


@org_app.command("invite")
def org_invite(
    org: str,
    role: Annotated[str, typer.Option(help="admin or viewer")] = "viewer",
    days: Annotated[int, typer.Option(help="valid for this many days")] = 7,
) -> None:
    """A single-use invite code for a member of ORG to use in the bot (/join CODE)."""

    async def work(a: App) -> tuple[str, str | None]:
        code, _ = await a.members.create_invite(org, role, days)
        return code, await _bot_username(a)

    code, username = _run(work)
    console.print(f"invite for {org} ({role}), valid {days} days, usable once:")
    console.print(f"  code: {code}")
    if username:
        console.print(f"  link: https://t.me/{username}?start={code}")
    console.print("In the bot: /join CODE (or open the link).")


@org_app.command("members")
def org_members(org: str) -> None:
    """Members of ORG linked in the bot."""

    members = _run(lambda a: a.members.list_members(org))
    table = Table("member", "channel", "role", "joined", "subscribed", "status")
    for m in members:
        table.add_row(
            str(m.id),
            m.channel,
            m.role,
            _day(m.joined_at),
            "yes" if m.subscribed else "no",
            "revoked" if m.revoked_at else "active",
        )
    console.print(table)


@org_app.command("revoke")
def org_revoke(org: str, member: int) -> None:
    """Remove a member from ORG (they lose access at once)."""

    _run(lambda a: a.members.revoke(org, member))
    console.print(f"member {member} of {org} revoked")


# ------------------------------------------------------------------ web portal accounts
@portal_app.command("invite")
def portal_invite(
    org: str,
    role: Annotated[str, typer.Option(help="admin or viewer")] = "viewer",
    days: Annotated[int, typer.Option(help="valid for this many days (1 to 30)")] = 7,
) -> None:
    """A single-use link that lets one person of ORG create a portal account."""

    async def work(a: App) -> tuple[str, str]:
        code, _ = await a.accounts.create_invite(org, role, days)
        return code, a.settings.web_base_url.rstrip("/")

    code, base = _run(work)
    console.print(f"portal invite for {org} ({role}), valid {days} days, usable once:")
    console.print(f"  {base}/invite/{code}", soft_wrap=True)
    console.print("Send it to one person; they choose their e-mail address and password there.")


@portal_app.command("accounts")
def portal_accounts(org: str) -> None:
    """Portal accounts of ORG."""

    accounts = _run(lambda a: a.accounts.list_accounts(org))
    table = Table("account", "e-mail", "role", "language", "created", "last log-in", "status")
    for acc in accounts:
        table.add_row(
            str(acc.id),
            acc.email or "(bot member, logs in with /login)",
            acc.role,
            acc.language or "browser",
            _day(acc.created_at),
            _day(acc.last_login_at),
            "disabled" if acc.disabled_at else "active",
        )
    console.print(table)


@portal_app.command("disable")
def portal_disable(org: str, account: int) -> None:
    """Disable a portal account of ORG (its sessions end at once)."""

    _run(lambda a: a.accounts.disable(org, account))
    console.print(f"portal account {account} of {org} disabled")


# ------------------------------------------------------------------ factories
@factory_app.command("add")
def factory_add(
    code: str,
    name: Annotated[str, typer.Option(help="factory name")],
    region: Annotated[
        str, typer.Option(help="sindh, punjab, islamabad, khyber_pakhtunkhwa or balochistan")
    ] = "sindh",
    city: Annotated[str, typer.Option()] = "",
    os_id: Annotated[str | None, typer.Option(help="Open Supply Hub id")] = None,
    headcount: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Register a factory."""
    _run(lambda a: a.admin.add_factory(code, name, region, city, os_id, headcount))
    console.print(f"added factory {code}")


@factory_app.command("list")
def factory_list() -> None:
    """List factories."""
    factories = _run(lambda a: a.admin.list_factories())
    table = Table("code", "name", "region", "city", "OS ID", "headcount")
    for f in factories:
        table.add_row(f.code, f.name, f.region, f.city, f.os_id or "", str(f.headcount or ""))
    console.print(table)


@factory_app.command("import")
def factory_import(csv_file: Path) -> None:
    """Import factories from CSV: code,name,region,city,os_id,headcount (header row required)."""
    text = csv_file.read_text(encoding="utf-8-sig")
    added, updated = _run(lambda a: a.admin.import_factories(text))
    console.print(f"{added} added, {updated} updated")


# ------------------------------------------------------------------ rounds
# Where a worker gets help: the CSO's text per language, else the default (docs/rounds.md).
HelpEn = Annotated[
    str | None, typer.Option("--help-text-en", help="where workers get help, in English")
]
HelpUr = Annotated[str | None, typer.Option("--help-text-ur", help="… in Urdu")]
HelpSd = Annotated[str | None, typer.Option("--help-text-sd", help="… in Sindhi")]


def _help_texts(en: str | None, ur: str | None, sd: str | None) -> dict[str, str | None]:
    return {lang: text for lang, text in (("en", en), ("ur", ur), ("sd", sd)) if text}


def _print_help_defaults(a_round: Any) -> None:
    """Say which languages get the default help text, what it says, and how to set one."""
    missing = [lang for lang in ("en", "ur", "sd") if lang not in (a_round.help_text or {})]
    if not missing:
        return
    console.print(
        f"Where workers get help ({', '.join(missing)}): the default text will be used. "
        "Check it and set your own (your helpline or WhatsApp number):"
    )
    for region, text in default_help_texts(a_round).items():
        console.print(f"  default for {region}: {text}", markup=False, highlight=False)
    console.print(
        f'  wagecheck round help {a_round.id} --lang ur "TEXT"  (and --lang sd, --lang en)',
        markup=False,
        highlight=False,
    )


@round_app.command("help")
def round_help(
    round_id: int,
    text: Annotated[str | None, typer.Argument(help="the text (at most 500 characters)")] = None,
    lang: Annotated[str | None, typer.Option(help="en, ur or sd")] = None,
    show: Annotated[bool, typer.Option("--show", help="show the texts")] = False,
    clear: Annotated[bool, typer.Option("--clear", help="back to the default")] = False,
) -> None:
    """Where the round's workers get help (your helpline, the complaint route), per language:
    shown at the end of the survey and when a worker types "help"."""

    async def work(a: App) -> Any:
        if show or (text is None and not clear):
            return await a.admin.get_round(round_id)
        if lang is None:
            raise AdminError("give --lang en, ur or sd")
        if clear and text is not None:
            raise AdminError("give a TEXT or --clear, not both")
        return await a.admin.set_help_text(round_id, lang, None if clear else text)

    rnd = _run(work)
    texts = rnd.help_text or {}
    for code in ("en", "ur", "sd"):
        shown = texts.get(code, "(the default)")
        console.print(f"{code}: {shown}", markup=False, highlight=False)
    _print_help_defaults(rnd)


@round_app.command("create")
def round_create(
    name: Annotated[str, typer.Option(help="a name for the round")],
    cso: Annotated[str, typer.Option(help="the CSO running it")],
    factory: Annotated[list[str], typer.Option("--factory", "-f", help="factory code; repeat")],
    opens_at: Annotated[datetime | None, typer.Option(help="opening time (UTC)")] = None,
    closes_at: Annotated[datetime | None, typer.Option(help="closing time (UTC)")] = None,
    max_reminders: Annotated[int, typer.Option(min=0, help="reminders per worker")] = 1,
    reminder_delay_hours: Annotated[float, typer.Option(min=1, help="hours before one")] = 24,
    help_text_en: HelpEn = None,
    help_text_ur: HelpUr = None,
    help_text_sd: HelpSd = None,
) -> None:
    """Create a draft round; poster codes exist now but work only while the round is open."""

    rnd = _run(
        lambda a: a.admin.create_round(
            name,
            cso,
            a.survey,
            factory,
            _utc(opens_at),
            _utc(closes_at),
            max_reminders,
            timedelta(hours=reminder_delay_hours),
            _help_texts(help_text_en, help_text_ur, help_text_sd),
        )
    )
    console.print(f"round {rnd.id} created (draft); poster codes:")
    round_links(rnd.id)
    _print_help_defaults(rnd)
    console.print(f"Next: wagecheck round schedule {rnd.id}  (or: wagecheck round open {rnd.id})")


@round_app.command("schedule")
def round_schedule(round_id: int) -> None:
    """draft → scheduled: the scheduler opens it at opens_at and closes it at closes_at."""
    rnd = _run(lambda a: a.admin.schedule_round(round_id))
    console.print(f"round {round_id} scheduled: opens {rnd.opens_at}, closes {rnd.closes_at}")


@round_app.command("extend")
def round_extend(
    round_id: int,
    closes_at: Annotated[datetime | None, typer.Option(help="new closing time (UTC)")] = None,
    days: Annotated[int | None, typer.Option(min=1, help="or: this many days later")] = None,
) -> None:
    """Move the closing time of a round that has not closed yet."""

    async def work(a: App) -> Any:
        new = _utc(closes_at)
        if new is None:
            if days is None:
                raise AdminError("give --closes-at or --days")
            current = (await a.admin.get_round(round_id)).closes_at or a.clock()
            new = current + timedelta(days=days)
        return await a.admin.extend_round(round_id, new)

    rnd = _run(work)
    console.print(f"round {round_id} now closes {rnd.closes_at}")


@round_app.command("cancel")
def round_cancel(round_id: int) -> None:
    """Cancel a draft, scheduled or open round (no results; addresses purged)."""
    purged = _run(lambda a: a.admin.cancel_round(round_id))
    console.print(f"round {round_id} cancelled; {purged['addresses_purged']} address(es) purged")


@round_app.command("remind")
def round_remind(round_id: int) -> None:
    """Queue the reminders due now and send the round's outbox, with progress."""

    async def work(a: App) -> Any:
        queued = await queue_due_reminders(a.db, a.clock(), round_id)
        async with configured_senders(a) as senders:
            if not senders:
                raise AdminError(
                    "no channel to send on: set WAGECHECK_TELEGRAM_TOKEN or the WhatsApp settings"
                )
            broadcaster = a.broadcaster(senders)
            total = await broadcaster.pending(round_id)
            console.print(f"{queued} reminder(s) queued; {total} message(s) to send")
            with Progress(
                TextColumn("sending"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            ) as progress:
                task = progress.add_task("send", total=total)
                return await broadcaster.drain(
                    round_id, progress=lambda r: progress.update(task, completed=r.done)
                )

    result = _run(work)
    console.print(
        f"sent {result.sent}, blocked {result.blocked}, skipped {result.skipped}, "
        f"failed {result.failed}, to retry {result.retried}"
        + (
            f"; {result.held_for_quiet_hours} wait for the end of quiet hours"
            if result.held_for_quiet_hours
            else ""
        )
    )


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and not moment.tzinfo else moment


@wages_app.command("check")
def wages_check(
    on: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="check as of this date, YYYY-MM-DD (default: today in Pakistan)",
        ),
    ] = None,
    table: Annotated[
        Path | None, typer.Option(help="the table file (default: the configured one)")
    ] = None,
) -> None:
    """Validate the wage table and list the regions without a line for the current fiscal
    year (from 1 July). Exit code 1 when any region is stale, 2 when the file has a mistake."""
    settings = Settings()
    path = table or settings.surveys_dir / settings.wage_table
    try:
        wages = WageTable.load(path)
    except (WageTableError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    day = on.date() if on is not None else datetime.now(UTC).astimezone(_KARACHI).date()
    start = fiscal_year_start(day)
    console.print(
        f"{path}: {len(wages.entries)} lines, {len(wages.regions)} regions; "
        f"fiscal year from {start.isoformat()}, as of {day.isoformat()}"
    )
    stale = wages.stale_regions(day)
    for s in wages.regions:
        found = wages.staleness(s, day)
        mark = "STALE" if found.stale else "ok"
        console.print(f"  {mark:5}  {stale_wage_text(found)}", highlight=False)
    if stale:
        console.print(
            f"{len(stale)} region(s) without a minimum for the fiscal year from "
            f"{start.isoformat()}: {', '.join(x.region for x in stale)}. Add the new "
            "notifications to the table (docs/minimum-wages.md), or open rounds with "
            "--accept-stale-wages.",
            highlight=False,
        )
        raise typer.Exit(1)
    console.print("every region has a line for this fiscal year")


@round_app.command("open")
def round_open(
    round_id: Annotated[int | None, typer.Argument(help="open this draft/scheduled round")] = None,
    name: Annotated[str | None, typer.Option(help="a name for the round")] = None,
    cso: Annotated[str | None, typer.Option(help="the CSO running it")] = None,
    factory: Annotated[
        list[str] | None, typer.Option("--factory", "-f", help="factory code; repeat")
    ] = None,
    closes_at: Annotated[datetime | None, typer.Option(help="planned closing time (UTC)")] = None,
    help_text_en: HelpEn = None,
    help_text_ur: HelpUr = None,
    help_text_sd: HelpSd = None,
    accept_stale_wages: Annotated[
        bool,
        typer.Option(
            help="open even though the wage table has no minimum for this fiscal year yet in a "
            "region of the round (workers are told the latest notified minimum); see "
            "`wagecheck wages check`"
        ),
    ] = False,
) -> None:
    """Open a round now: ROUND_ID (created before), or a new one from --name, --cso, -f."""
    texts = _help_texts(help_text_en, help_text_ur, help_text_sd)

    async def work(a: App) -> Any:
        if round_id is not None:
            for lang, text in texts.items():
                await a.admin.set_help_text(round_id, lang, text)
            return await a.admin.start_round(
                round_id, wages=a.wages, accept_stale_wages=accept_stale_wages
            )
        if not (name and cso and factory):
            raise AdminError("give a ROUND_ID, or --name, --cso and --factory for a new round")
        return await a.admin.open_round(
            name,
            cso,
            a.survey,
            factory,
            _utc(closes_at),
            help_text=texts,
            wages=a.wages,
            accept_stale_wages=accept_stale_wages,
        )

    rnd = _run(work)
    console.print(f"round {rnd.id} is open")
    if accept_stale_wages:
        console.print(
            "[yellow]note:[/yellow] opened on the latest notified minimum wages where the table "
            "has none for this fiscal year yet (see `wagecheck wages check`)"
        )
    round_links(rnd.id)
    _print_help_defaults(rnd)
    console.print(f"Posters: wagecheck round poster {rnd.id} --factory CODE --out poster.pdf")


@round_app.command("close")
def round_close(round_id: int) -> None:
    """Close a round: stop answers and purge contact addresses."""
    purged = _run(lambda a: a.admin.close_round(round_id))
    console.print(
        f"round {round_id} closed; {purged['addresses_purged']} contact address(es) "
        f"purged; {purged['conversations_trimmed']} conversation(s) cleared of answers"
    )


@round_app.command("publish")
def round_publish(round_id: int) -> None:
    """Mark a closed round's results as delivered (drops completion hours)."""
    _run(lambda a: a.admin.publish_round(round_id))
    console.print(f"round {round_id} published")


@db_app.command("prune")
def db_prune() -> None:
    """Forget old message ids, unsent replies, expired opt-in addresses and old log-in
    throttling rows (also done when a round closes, and every night by the scheduler)."""
    pruned = _run(lambda a: a.admin.prune())
    console.print(
        f"{pruned['message_ids']} message id(s), {pruned['unsent_replies']} unsent "
        f"reply(ies), {pruned['opt_in_addresses']} expired opt-in address(es) and "
        f"{pruned['login_throttles']} old log-in throttling row(s) removed"
    )


@round_app.command("list")
def round_list() -> None:
    """List rounds."""
    rounds = _run(lambda a: a.admin.list_rounds())
    table = Table("id", "name", "status", "opened", "closes", "factories")
    for r in rounds:
        table.add_row(
            str(r.id), r.name, r.status, _day(r.opens_at), _day(r.closes_at), str(len(r.factories))
        )
    console.print(table)


@round_app.command("status")
def round_status(round_id: int) -> None:
    """Response counts per factory (counts only; answers are never shown here), with the
    answers each factory needs: for ±5 and ±10 points at 95 % from its headcount, and the
    fewest after which a verdict could be conclusive (docs/rounds.md)."""

    async def work(a: App) -> tuple[list[Any], int, VerdictRule]:
        return await a.admin.counts(round_id), a.settings.k_brand, verdict_rule(a)

    counts, k, rule = _run(work)
    table = Table(
        "factory",
        "name",
        "poster code",
        "started",
        "complete",
        "response rate",
        "needed ±5",
        "needed ±10",
        "verdict from",
        "progress (±5)",
        title=f"round {round_id}",
    )
    for c in counts:
        rate = f"{c.complete / c.headcount:.0%}" if c.headcount else "–"
        t = target(c.headcount, k, rule)
        table.add_row(
            c.code,
            c.name,
            c.access_code,
            str(c.started),
            str(c.complete),
            rate,
            str(t.plus_minus_5),
            str(t.plus_minus_10),
            str(t.conclusive_from),
            f"{t.progress(c.complete):.0%}",
        )
    console.print(table)
    if any(not c.headcount for c in counts):
        console.print("Factories without a headcount: targets for an unlimited workforce.")
    messages = _run(lambda a: outbox_counts(a.db, round_id))
    if messages:
        sent = Table("message", "status", "count", title=f"round {round_id}: messages we sent")
        for (kind, status), n in sorted(messages.items()):
            sent.add_row(kind, status, str(n))
        console.print(sent)


@round_app.command("links")
def round_links(round_id: int) -> None:
    """The deep link (and poster code) of every factory in a round."""
    console.print(_links_table(_run(lambda a: _links(a, round_id)), f"round {round_id}"))


@round_app.command("poster")
def round_poster(
    round_id: int,
    factory: Annotated[str, typer.Option(help="factory code (e.g. KHI-001) or poster code")],
    out: Annotated[Path, typer.Option(help="file to write (.pdf or .png)")],
) -> None:
    """An A4 poster with the QR code and a few lines in Urdu, Sindhi and English."""

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "png"):
        err.print("[red]error:[/red] --out must end in .pdf or .png")
        raise typer.Exit(2)

    async def work(a: App) -> Path:
        rnd = await a.admin.get_round(round_id)
        rf = next((rf for rf in rnd.factories if factory in (rf.factory.code, rf.code)), None)
        if rf is None:
            raise AdminError(f"factory {factory!r} is not in round {round_id}")
        username = await _bot_username(a)
        number = a.settings.whatsapp_number
        if username is None and not number:
            raise AdminError(
                "the poster needs a way in: set WAGECHECK_TELEGRAM_TOKEN (or "
                "WAGECHECK_TELEGRAM_BOT_USERNAME) and/or WAGECHECK_WHATSAPP_NUMBER"
            )
        links = poster_links(username, number, rf.code)

        cso_name = await a.admin.org_name(rnd.cso_id)
        return render_poster(
            factory_name=rf.factory.name,
            code=rf.code,
            links=links,
            catalogs=a.catalogs,
            out=out,
            fmt=fmt,
            cso_name=cso_name,
        )

    path = _run(work)
    console.print(f"poster written to {path}")


async def _links(a: App, round_id: int) -> list[tuple[str, ...]]:
    """Per factory: code, name, poster code, Telegram link, and the WhatsApp link when
    WAGECHECK_WHATSAPP_NUMBER is set."""
    username = await _bot_username(a)
    number = a.settings.whatsapp_number
    rnd = await a.admin.get_round(round_id)
    return [
        (
            rf.factory.code,
            rf.factory.name,
            rf.code,
            deep_link(username, rf.code) if username else "(set WAGECHECK_TELEGRAM_TOKEN)",
            *([wa_link(number, rf.code)] if number else []),
        )
        for rf in sorted(rnd.factories, key=lambda rf: rf.factory.code)
    ]


def _links_table(rows: list[tuple[str, ...]], title: str) -> Table:
    columns = ["factory", "name", "poster code", "Telegram link", "WhatsApp link"]
    table = Table(*columns[: len(rows[0]) if rows else 4], title=title)
    for column in table.columns[3:]:
        column.overflow = "fold"  # a cut link is useless; wrap it whole
    for row in rows:
        table.add_row(*row)
    return table


async def _bot_username(a: App) -> str | None:
    return await bot_username(a)


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "–"


# ------------------------------------------------------------------ worker side
@app.command()
def chat(
    lang: Annotated[
        str | None, typer.Option(help="answer in en, ur or sd (skips the choice)")
    ] = None,
    factory: Annotated[str | None, typer.Option(help="factory code or poster code")] = None,
    user: Annotated[str | None, typer.Option(help="a fixed user id, to continue a chat")] = None,
) -> None:
    """Take the survey as a worker would, in the terminal (or with answers piped in)."""

    if lang is not None and lang not in ("en", "ur", "sd"):
        err.print("[red]error:[/red] --lang must be en, ur or sd")
        raise typer.Exit(2)

    async def work(a: App) -> None:
        code = await _poster_code(a, factory) if factory else None
        terminal = TerminalChat(a.service, sys.stdout, user_id=user, lang=lang)
        if not sys.stdin.isatty():
            await terminal.run(sys.stdin, code)
            return
        await terminal.start(code)
        while True:
            try:
                line = await asyncio.to_thread(input, "> ")
            except (EOFError, KeyboardInterrupt):
                print()
                return
            await terminal.say(line)

    _run(work)


async def _poster_code(a: App, factory: str) -> str:
    """Accept a factory's own code (e.g. KHI-001) and find its open round's poster code."""
    return await a.admin.poster_code(factory) or factory


# ------------------------------------------------------------------ running the channels
@app.command("run")
def run_channels(
    channels: Annotated[
        list[str],
        typer.Argument(help="what to run: telegram, whatsapp, web (the portal), or several"),
    ],
    webhook: Annotated[
        bool, typer.Option(help="Telegram: webhook instead of long polling")
    ] = False,
    listen: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT of the webhook server (default 127.0.0.1:8080); "
            "of the portal when it is the only server"
        ),
    ] = None,
    web_listen: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT of the portal beside a webhook server (default 127.0.0.1:8000)"
        ),
    ] = None,
    scheduler: Annotated[
        bool,
        typer.Option(
            help="also run the scheduler in this process (docs/rounds.md); by default each "
            "process does one thing and `wagecheck scheduler` runs it"
        ),
    ] = False,
) -> None:
    """Run the bot and/or the web portal (until SIGINT/SIGTERM). With WhatsApp, one server on
    --listen takes the WhatsApp webhook and, with --webhook, Telegram's too; the portal has
    its own server (docs/portal.md); all share the database."""

    unknown = set(channels) - {"telegram", "whatsapp", "web"}
    if unknown:
        err.print(f"[red]error:[/red] unknown channel(s): {', '.join(sorted(unknown))}")
        raise typer.Exit(2)
    webhooks = "whatsapp" in channels or ("telegram" in channels and webhook)
    hook_listen = listen or "127.0.0.1:8080"
    portal_listen = web_listen or (listen if listen and not webhooks else DEFAULT_WEB_LISTEN)
    try:
        if (
            "web" in channels
            and webhooks
            and parse_listen(portal_listen) == parse_listen(hook_listen)
        ):
            raise ValueError("the portal needs its own port beside the webhooks: give --web-listen")
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None

    async def work(a: App) -> None:
        username = functools.partial(bot_username, a)  # the portal asks the Bot API through it
        portal = (
            [lambda stop: serve_web(a, portal_listen, stop, username)] if "web" in channels else []
        )
        if "whatsapp" in channels:
            whatsapp = WhatsAppChannel.build(a)
            also, tasks = [], list(portal)
            if "telegram" in channels:
                telegram = TelegramChannel.build(a)
                if webhook:
                    also.append(_telegram_webhook_app(a, telegram))
                else:
                    tasks.append(lambda stop: run_polling(telegram, stop, handle_signals=False))
            await serve(whatsapp, hook_listen, also=also, tasks=tasks)
            return
        if "telegram" in channels:
            channel = TelegramChannel.build(a)
            if not portal:
                if webhook:
                    await run_webhook(channel, hook_listen)
                else:
                    await run_polling(channel)
                return
            if webhook:
                hook_app = _telegram_webhook_app(a, channel)
                portal.append(lambda stop: serve_asgi(hook_app, hook_listen, stop, "telegram"))
            else:
                portal.append(lambda stop: run_polling(channel, stop, handle_signals=False))
        await run_together(portal)

    async def with_scheduler(a: App) -> None:
        if not scheduler:
            await work(a)
            return
        # The scheduler has its own channel clients (its sends do not queue behind replies).
        async with configured_senders(a) as senders, running_scheduler(a, senders):
            await work(a)

    try:
        _run(with_scheduler)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _telegram_webhook_app(a: App, channel: Any) -> Any:
    """Telegram's webhook endpoint, to serve next to WhatsApp's on the same port."""

    s = a.settings
    if not s.telegram_webhook_url or s.telegram_webhook_secret is None:
        raise ValueError(
            "webhook mode needs WAGECHECK_TELEGRAM_WEBHOOK_URL and "
            "WAGECHECK_TELEGRAM_WEBHOOK_SECRET"
        )
    path = urlsplit(s.telegram_webhook_url).path or "/"
    secret = s.telegram_webhook_secret.get_secret_value()
    return webhook_app(channel, path, secret, s.telegram_webhook_url)


# ------------------------------------------------------------------ the scheduler
@app.command("scheduler")
def scheduler(
    metrics_listen: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT of an HTTP server with /metrics and /healthz for this process "
            "(docs/operations.md); none unless given"
        ),
    ] = None,
) -> None:
    """Run the scheduler (rounds open/close on time, reminders, daily status, reports) until
    SIGINT/SIGTERM; `wagecheck run ... --scheduler` runs it beside the channels instead."""
    if metrics_listen is not None:
        try:
            parse_listen(metrics_listen)
        except ValueError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None

    async def work(a: App) -> None:
        async with configured_senders(a) as senders:
            if metrics_listen is None:
                await run_until_stopped(a, senders)
                return
            listen = metrics_listen
            await run_together(
                [
                    functools.partial(run_until_stopped, a, senders),
                    lambda stop: serve_asgi(metrics_app(a), listen, stop, "metrics"),
                ]
            )

    _run(work)


# ------------------------------------------------------------------ demo
@app.command()
def demo(
    workers: Annotated[int, typer.Option(min=1, max=100_000, help="simulated workers")] = 300,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same round)")] = 7,
) -> None:
    """Run a complete round on a fresh SQLite database in the home folder and print the results."""

    base = Settings()
    db_file = (base.home / "demo.db").resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    settings = base.model_copy(update={"database_url": f"sqlite+aiosqlite:///{db_file}"})

    clock = SetClock(_demo_moment(ROUNDS[0][1]), tick=True)

    async def work(a: App) -> None:
        console.print(f"[bold]WageCheck demo[/bold] — database {db_file}")
        console.print(
            "two rounds either side of Sindh's raise of 1 July 2025, on a clock set to 2025"
        )
        round_ids = []
        codes: dict[str, str] = {}
        for i, (name, opens, closes) in enumerate(ROUNDS):
            clock.set(_demo_moment(opens), tick=True)
            if i == 0:
                round_id, codes = await set_up(a, name)
            else:
                round_id, codes = await open_round(a, name)
            round_ids.append(round_id)
            console.print(
                f"round {round_id} opened for {len(codes)} factories; poster codes: "
                + ", ".join(f"{f}={c}" for f, c in codes.items())
            )
            with Progress(
                TextColumn("simulating workers"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task("workers", total=workers)
                result = await simulate(
                    a,
                    round_id,
                    codes,
                    workers,
                    seed + i,
                    progress=functools.partial(_advance, progress, task),
                )
            console.print(
                f"{result.messages} messages handled in {result.seconds:.1f} s "
                f"({result.messages / result.seconds:.0f}/s); {result.completed} "
                f"completed, {result.stopped} stopped halfway"
            )
            clock.set(_demo_moment(closes), tick=True)
            purged = await a.admin.close_round(round_id)
            console.print(f"round closed; {purged['addresses_purged']} contact addresses purged")
            await _print_results(a, round_id, a.settings.k_cso)
        round_id = round_ids[-1]
        await _print_trend(a, round_id, f"brand:{next(iter(BRANDS))}")
        folder = (base.home / "reports").resolve()
        written = await write_reports(
            a, round_id, f"cso:{CSO}", ("pdf", "html", "xlsx", "json", "csv", "answers"), folder
        )
        for brand in BRANDS:
            written += await write_reports(
                a, round_id, f"brand:{brand}", ("pdf", "html", "xlsx", "json", "csv"), folder
            )
        console.print(
            f"reports of round {round_id} for the CSO and the brands written to {folder}:"
        )
        for path in written:
            console.print(f"  {path.name}")

    _run(work, settings, clock)


def _advance(progress: Progress, task: TaskID, n: int) -> None:
    progress.update(task, completed=n)


def _demo_moment(day: tuple[int, int, int]) -> datetime:
    return datetime(*day, 9, 0, tzinfo=UTC)


async def _print_trend(a: App, round_id: int, audience: str) -> None:
    """The trend of each factory as the brand sees it (bot/reports/trends.py)."""
    report = await build_report(a, round_id, audience)
    table = Table(
        "factory",
        "round",
        "paid ≥ minimum",
        "95% interval",
        "change",
        "95% interval",
        title=f"Trend across rounds — {audience} (k = {report.k})",
    )

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x:.0%}"

    for t in report.trends:
        for tr in t.rounds:
            paid = tr.point.paid_at_least_minimum
            rows = [(tr.point, tr.change)] + [
                (side, tr.side_change if j else None) for j, side in enumerate(tr.sides)
            ]
            for j, (point, ch) in enumerate(rows):
                label = (
                    point.round_name if j == 0 else f"  pay months {', '.join(point.pay_months)}"
                )
                paid = point.paid_at_least_minimum
                share_text = (
                    pct(paid.share)
                    if paid.bound is None
                    else f"{'≥' if paid.bound == 'at_least' else '≤'} {pct(paid.share)}"
                )
                table.add_row(
                    f"{t.code}",
                    label,
                    share_text,
                    "–" if paid.ci95 is None else f"{pct(paid.ci95[0])} – {pct(paid.ci95[1])}",
                    "–" if ch is None or ch.difference is None else f"{ch.difference:+.0%}",
                    "–"
                    if ch is None or ch.ci95 is None
                    else f"{ch.ci95[0]:+.0%} – {ch.ci95[1]:+.0%}",
                )
    console.print(table)


async def _print_results(a: App, round_id: int, k: int) -> None:

    async with a.db.transaction() as s:
        results = await compute_round_results(s, round_id, a.wages, k)
    table = Table(
        "factory",
        "answers",
        "rate",
        "paid ≥ legal minimum",
        "95% interval",
        title=f"{results.name} — CSO view (k = {k})",
    )
    hidden = f"< {k} answers"
    for f in results.factories:
        shown = f.respondents >= k
        rate = f"{f.response_rate:.0%}" if shown and f.response_rate is not None else "–"
        if f.suppressed:
            share = ci = hidden
        else:
            assert f.share is not None and f.ci95 is not None
            share = f"{f.share:.0%} of {f.assessed}"
            ci = f"{f.ci95[0]:.0%} – {f.ci95[1]:.0%}"
        table.add_row(
            f"{f.code} {f.name}", str(f.respondents) if shown else hidden, rate, share, ci
        )
    console.print(table)
    console.print(
        "Answers about a full month only. Each is compared with the legal minimum in force "
        "for its month, region and job grade (surveys/minimum-wages.yaml). Rate = answers / "
        "headcount. Figures from fewer than k answers are not shown."
    )


def _register_extensions() -> None:
    """Commands that live next to what they drive (reports), registered on the main app."""

    register_reports(app, build_app)


_register_extensions()

if __name__ == "__main__":
    app()
