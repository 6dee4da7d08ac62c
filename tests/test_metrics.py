"""`/metrics` (docs/operations.md "Monitoring"), scraped through the real ASGI apps and read
with prometheus_client's own parser: the portal and a Telegram webhook process report the same
database figures; counters move when workers write, replies go out, a 429 is waited out and a
reminder is sent; a bad broadcast row shows; the token is required; the scheduler's own
process reports that it runs the jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import func, select, update

from bot.bootstrap import App
from bot.clock import SetClock
from bot.service.broadcasts import Broadcaster, Outgoing, QuietHours, enqueue_due_reminders
from bot.storage.models import ContactAddress, ProcessedMessage
from tests.conftest import NOW, PROJECT_ROOT
from tests.portal_helpers import portal_client
from tests.telegram_standin import TelegramStandin
from tests.test_service import Worker, complete_survey, open_round
from tests.test_telegram import TOKEN, webhook_bot

METRICS_TOKEN = "scrape-" + "m" * 30
Figures = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Figures:
    """Every sample of an exposition, keyed by its name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(figures: Figures, name: str, **labels: str) -> float:
    return figures.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient, base: str = "") -> Figures:
    response = await client.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


@dataclass
class Recorder:
    """A broadcast sender that only records (the Telegram stand-in is not needed for this)."""

    channel: str = "telegram"
    rate: float | None = None
    sent: list[Outgoing] = field(default_factory=list)

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)


def delta(after: Figures, before: Figures, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_metrics_after_workers_answered_and_reminders_went(app: App, clock: SetClock) -> None:
    app.settings = app.settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})
    clock.set(NOW + timedelta(minutes=10))
    codes = await open_round(app)
    round_id = (await app.admin.list_rounds())[-1].id
    async with TelegramStandin(TOKEN) as api, webhook_bot(app, api) as (url, _):
        async with portal_client(app) as portal, httpx.AsyncClient() as hook:
            before = await scrape(portal)
            # One worker through the real webhook, whose first reply meets a 429.
            api.fail_next("sendMessage", times=1, error_code=429, retry_after=1)
            api.user_sends_start(8801, codes["KHI-001"])
            await api.wait_for_messages(8801, 1)
            # Two more through the service (as the webhook would): one finishes, two stop.
            await complete_survey(Worker(app, "8802", channel="telegram"), codes["KHI-001"])
            for chat in ("8803", "8804"):
                w = Worker(app, chat, channel="telegram")
                await w.start(codes["KHI-001"])
                await w.press("en")
                await w.press("yes")  # consent
                await w.press("yes")  # the factory: now at the job question
            again = await w.send(message_id="the same id", kind="text", text="?")
            duplicate = await w.send(message_id="the same id", kind="text", text="?")
            assert not again.duplicate and duplicate.duplicate

            during = await scrape(portal)
            async with app.db.transaction() as s:
                handled = await s.scalar(select(func.count()).select_from(ProcessedMessage))
            assert delta(during, before, "wagecheck_messages_handled_total", **tg("ok")) == handled
            assert delta(during, before, "wagecheck_messages_handled_total", **tg("duplicate")) == 1
            assert delta(during, before, "wagecheck_messages_failed_total", channel="telegram") == 0
            assert delta(during, before, "wagecheck_database_errors_total", error="IntegrityError")
            assert delta(during, before, "wagecheck_rate_limited_total", channel="telegram") == 1
            sent = delta(during, before, "wagecheck_messages_sent_total", **tg(kind="reply"))
            assert sent == len(api.messages_to(8801)) >= 1
            assert value(during, "wagecheck_database_up") == 1
            assert value(during, "wagecheck_rounds_open") == 1
            # Completed answers count from the next full hour on, never to the minute.
            assert value(during, "wagecheck_round_responses_completed", round=str(round_id)) == 0

            # A day later: reminders for the three who stopped; one address is damaged.
            later = NOW + timedelta(hours=26)
            clock.set(later)
            async with app.db.transaction() as s:
                queued = await enqueue_due_reminders(s, later)
                damaged = app.keyring.conversation_key("telegram", "8804")
                await s.execute(
                    update(ContactAddress)
                    .where(ContactAddress.key == damaged)
                    .values(ciphertext=b"\x00" * 40)
                )
            assert queued == 2
            queue = await scrape(portal)
            assert value(queue, "wagecheck_broadcast_messages", **rem("pending")) == queued
            assert value(queue, "wagecheck_broadcast_messages", **rem("in_doubt")) == 0
            assert value(queue, "wagecheck_broadcast_oldest_pending_seconds", kind="reminder") == 0
            assert value(queue, "wagecheck_round_responses_completed", round=str(round_id)) == 1
            # The webhook process reports the same database figures as the portal.
            same = await scrape(hook, url)
            for name in ("wagecheck_broadcast_messages", "wagecheck_round_responses_completed"):
                assert {k: v for k, v in same.items() if k[0] == name} == {
                    k: v for k, v in queue.items() if k[0] == name
                }

            recorder = Recorder()
            no_quiet = QuietHours(time(0, 0), time(0, 0))
            drained = await Broadcaster(
                app.db, app.keyring, app.catalogs, [recorder], no_quiet, clock=SetClock(later)
            ).drain()
            assert (drained.sent, drained.undeliverable) == (queued - 1, 1)
            after = await scrape(portal)
            reminders = {"channel": "telegram", "kind": "reminder"}
            assert delta(after, queue, "wagecheck_messages_sent_total", **reminders) == queued - 1
            assert delta(after, queue, "wagecheck_broadcasts_undeliverable_total", kind="reminder")
            assert value(after, "wagecheck_broadcast_messages", **rem("pending")) == 0
            assert value(after, "wagecheck_broadcast_messages", **rem("sent")) == queued - 1
            assert value(after, "wagecheck_broadcast_messages", **rem("undeliverable")) == 1
            text = (
                await portal.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            ).text
            # Nothing per worker: no chat id, pseudonym or factory reaches the figures.
            for secret in ("8801", "8802", "8803", damaged, "KHI-001", codes["KHI-001"]):
                assert secret not in text


def tg(result: str = "", kind: str = "") -> dict[str, str]:
    labels = {"channel": "telegram"}
    if result:
        labels["result"] = result
    if kind:
        labels["kind"] = kind
    return labels


def rem(status: str) -> dict[str, str]:
    return {"kind": "reminder", "status": status}


async def test_metrics_need_the_token_and_are_absent_without_one(app: App) -> None:
    async with portal_client(app) as portal:
        assert (await portal.get("/metrics")).status_code == 404  # no token set: not there
    app.settings = app.settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})
    async with portal_client(app) as portal:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": METRICS_TOKEN},
            {"Authorization": f"Bearer {METRICS_TOKEN}x"},
            {"Authorization": f"Basic {METRICS_TOKEN}"},
        ):
            refused = await portal.get("/metrics", headers=headers)
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            assert "wagecheck" not in refused.text
        assert await scrape(portal)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_scheduler_process_says_it_runs_the_jobs(
    app: App, database_url: str, tmp_path: Path
) -> None:
    """`wagecheck scheduler --metrics-listen`: the process that runs the jobs has no other
    HTTP server, so it serves /metrics itself: lease held 1 and its host:pid:random."""
    port = _free_port()
    env: Mapping[str, str] = {
        **os.environ,
        "WAGECHECK_DATABASE_URL": database_url,
        "WAGECHECK_SECRET_KEY": app.settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        "WAGECHECK_HOME": str(tmp_path / "home"),
        "WAGECHECK_METRICS_TOKEN": METRICS_TOKEN,
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "scheduler", "--metrics-listen", f"127.0.0.1:{port}"),
        cwd=PROJECT_ROOT,
        env=dict(env),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        figures: Figures = {}
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    figures = await scrape(client, f"http://127.0.0.1:{port}")
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
                    continue
                if value(figures, "wagecheck_scheduler_lease_held") == 1:
                    break
                await asyncio.sleep(0.05)
        assert value(figures, "wagecheck_scheduler_lease_held") == 1
        holders = [dict(k[1]) for k in figures if k[0] == "wagecheck_scheduler_holder_info"]
        assert len(holders) == 1  # host:pid:a few random characters
        assert holders[0]["holder"].startswith(f"{socket.gethostname()[:24]}:{process.pid}:")
        assert value(figures, "wagecheck_database_up") == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()


def test_the_metric_names_the_alerts_use_exist() -> None:
    """deploy/prometheus/alerts.yml: valid YAML, every rule has an expression, a duration and
    a runbook link into docs/operations.md, and every wagecheck_* name it uses is one that
    /metrics exposes. With promtool installed, `promtool check rules` too."""
    import re
    import shutil
    import subprocess

    import yaml

    from bot import metrics
    from bot.service import monitoring

    path = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"
    rules = [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]
    assert len(rules) >= 6
    families = [
        *metrics.REGISTRY.collect(),
        *monitoring.snapshot_families(monitoring.Snapshot(), 0.0),
    ]
    exposed = {f.name + ("_total" if f.type == "counter" else "") for f in families}
    runbook = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    for rule in rules:
        assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"]
        assert rule["annotations"]["runbook"].endswith("#" + rule["alert"].lower())
        assert f"\n### {rule['alert']}\n" in runbook, rule["alert"]
        for name in re.findall(r"\b(wagecheck_[a-z_]+|process_[a-z_]+)\b", rule["expr"]):
            assert name in exposed, (rule["alert"], name)
    if shutil.which("promtool"):
        checked = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
