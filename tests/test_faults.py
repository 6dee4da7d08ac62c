"""Faults under load (issue 8, section 2): the bot killed with SIGKILL, its database cut off or
locked, the same updates delivered again and again, a slow or failing Bot API / Graph API.

Workers answer the whole survey through the stand-ins (tests/fault_helpers.py); every test
compares what the workers received (the stand-in's record) with what the database holds. The
guarantees checked here are written down in docs/telegram.md ("What 'nothing is lost' means").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from bot.bootstrap import App
from bot.channels.telegram import TelegramChannel, webhook_app
from bot.config import Settings
from bot.storage.models import OutboxMessage, ProcessedMessage
from tests.fault_helpers import (
    ALL_ANSWERS,
    SCRIPT,
    TOKEN,
    BotProcess,
    ChatLog,
    TelegramWorker,
    WhatsAppWorker,
    application_with_timeout,
    count_rows,
    cut_connections,
    factory_codes,
    pay_of,
    poll_until,
    polling_bot,
    responses,
    sqlite_write_lock,
    stored_answers,
    telegram_settings,
    wa_repeats,
)
from tests.telegram_standin import TelegramStandin, serve_asgi
from tests.test_service import open_round
from tests.test_whatsapp import APP_SECRET, PHONE_NUMBER_ID, running
from tests.test_whatsapp import TOKEN as WA_TOKEN
from tests.whatsapp_standin import WhatsAppStandin


async def _assert_every_answer_once(app: App, workers: list[TelegramWorker]) -> None:
    """Every worker finished; each stored every answer exactly once, with its own pay."""
    assert all(w.finished for w in workers)
    stored = await stored_answers(app)
    done = await responses(app)
    for w in workers:
        assert stored[w.factory] == dict.fromkeys(ALL_ANSWERS, 1), w.factory
        assert done[w.factory] == ("complete", pay_of(w.index))
    updates = sum(len(w.injected) + len(w.nudges) for w in workers)
    assert await count_rows(app, ProcessedMessage) == updates  # each handled, none lost
    assert await count_rows(app, OutboxMessage) == 0  # every reply sent and forgotten


# ------------------------------------------------------------------------------ kill -9
KILL_WORKERS = 12
KILLS = 3


@dataclass
class Kill:
    """The database as the killed process left it."""

    at: float
    stored: dict[str, dict[str, int]]
    restarted: float = 0.0


async def test_kill_9_under_load_loses_no_answer_and_strands_no_worker(
    app: App, settings: Settings, tmp_path: Path
) -> None:
    """SIGKILL the real `wagecheck run telegram` process three times at random moments while
    twelve workers answer; restart it each time.

    After each kill: every answer whose next question had reached the worker is in the
    database, once. No worker is left waiting: replies leave the outbox only once Telegram
    took them, and the update is confirmed only after that, so what the killed process had
    not sent goes out on the redelivery. The price: a reply Telegram took just before the
    kill may come twice. Every worker finishes. The logs name no worker.
    """
    n = KILL_WORKERS
    codes = await open_round(app, factory_codes(n))
    rng = random.Random(f"kill-9-{settings.effective_database_url.split(':')[0]}")
    async with TelegramStandin(TOKEN, webhook_timeout=30) as api:
        log = ChatLog(api)
        workers = [TelegramWorker(api, log, i, codes) for i in range(n)]
        bot = BotProcess(settings, api, tmp_path / "bot.log")
        kills: list[Kill] = []
        await bot.start()
        running = asyncio.ensure_future(asyncio.gather(*(w.run() for w in workers)))
        try:
            messages = n * sum(s.action != "tick" for s in SCRIPT)
            for k in range(KILLS):
                # Somewhere in the k-th quarter of the run, then a little later still.
                low, high = messages * (k + 0.3) / (KILLS + 1), messages * (k + 0.9) / (KILLS + 1)
                target = rng.randint(int(low), int(high))
                await api.wait_until(lambda t=target: log.total_messages >= t, 120)
                await asyncio.sleep(rng.uniform(0, 0.05))
                await bot.kill()
                kill = Kill(time.monotonic(), await stored_answers(app))
                kills.append(kill)
                await bot.start()
                kill.restarted = bot.starts[-1]
            await asyncio.wait_for(running, 240)
            assert await bot.stop() == 0, bot.logs()
            logs = bot.logs()
            assert TOKEN not in logs and not [w for w in workers if str(w.chat) in logs]
        finally:
            running.cancel()
            await bot.aclose()

        for kill in kills:
            for w in workers:
                held = kill.stored.get(w.factory, {})
                assert set(held.values()) <= {1}
                # Stored once: every answer the worker had seen acknowledged by the next
                # question; nothing the worker had not sent.
                assert w.answered(until=kill.restarted) <= set(held) <= w.attempted(kill.at)
        # Nobody is stranded: a reply leaves the outbox only once Telegram took it, so what a
        # killed process had not finished sending goes out on the update's redelivery. No
        # worker waited in vain and wrote /start.
        nudges = sum(len(w.nudges) for w in workers)
        assert nudges == 0
        # The price: a reply Telegram took in the instant before the process could forget it
        # comes again after the restart — at most once per worker and kill, and only across
        # a kill (a button press's reply is an edit: the same edit again changes nothing).
        repeats = [pair for w in workers for pair in w.unasked_repeats()]
        for w in workers:
            for kill in kills:
                across = [(a, b) for a, b in w.unasked_repeats() if a.at < kill.at < b.at]
                assert len(across) <= 1, (w.chat, across)
        for first, second in repeats:
            assert any(first.at < k.at < second.at for k in kills), (first, second)
        await _assert_every_answer_once(app, workers)
        print(
            f"\nkill -9: {len(kills)} kills, {n} workers: none stranded; "
            f"{len(repeats)} question(s) sent again across a kill"
        )


# ------------------------------------------------------------------------------ database
OUTAGE_WORKERS = 8
OUTAGE_SECONDS = 3.0


async def test_a_database_outage_under_load_is_waited_out_and_nothing_is_lost_or_doubled(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL: for three seconds every session of the bot is ended (pg_terminate_backend)
    as it works, mid-transaction included. SQLite: another program holds the write lock for
    three seconds. The polling loop keeps the failed updates, tries them again and carries on;
    every answer is stored once, no question is sent twice."""
    caplog.set_level(logging.WARNING)
    codes = await open_round(app, factory_codes(OUTAGE_WORKERS))
    async with TelegramStandin(TOKEN) as api:
        telegram_settings(app, api)
        log = ChatLog(api)
        workers = [TelegramWorker(api, log, i, codes) for i in range(OUTAGE_WORKERS)]
        async with polling_bot(app, api) as polling:
            running = asyncio.ensure_future(asyncio.gather(*(w.run() for w in workers)))
            try:
                await api.wait_until(lambda: log.total_messages >= 4 * OUTAGE_WORKERS, 60)
                if app.db.is_sqlite:
                    path = make_url(app.db.url).database
                    assert path is not None
                    async with sqlite_write_lock(path):
                        handled = await count_rows(app, ProcessedMessage)
                        await asyncio.sleep(OUTAGE_SECONDS)  # how long the lock is held
                        assert await count_rows(app, ProcessedMessage) == handled
                        released = time.monotonic()
                else:
                    ended = await cut_connections(app.db.url, OUTAGE_SECONDS)
                await asyncio.wait_for(running, 120)
            finally:
                running.cancel()
            assert not polling.done()  # the loop never stopped

    if app.db.is_sqlite:
        # Nothing was written while the file was locked; updates sent before its end waited
        # (busy_timeout) and were answered after it.
        waited = [
            e
            for w in workers
            for e in w.injected
            if e.at < released and e.reply is not None and e.reply.at >= released
        ]
        assert waited
    else:
        assert ended > 0
        retried = [r for r in caplog.records if "update failed" in r.getMessage()]
        retried += [r for r in caplog.records if "retrying inbound" in r.getMessage()]
        assert retried  # transactions did fail mid-way, and were tried again
        print(f"\noutage: {ended} sessions ended, {len(retried)} retries")
    assert not [r for r in caplog.records if "left in the outbox" in r.getMessage()]
    for w in workers:
        assert w.unasked_repeats() == []
    await _assert_every_answer_once(app, workers)


# ------------------------------------------------------------------------------ redelivery
STORM_WORKERS = 5
LATE_COPIES = 4  # updates of each worker delivered once more after it finished
SECRET = "storm-secret_0123456789"


@contextlib.asynccontextmanager
async def telegram_webhook(app: App, api: TelegramStandin) -> AsyncIterator[str]:
    """Our webhook endpoint (bot.channels.telegram.webhook_app) served on 127.0.0.1."""
    telegram_settings(app, api)
    channel = TelegramChannel.build(app)
    asgi = webhook_app(channel, "/tg/hook", SECRET)
    async with serve_asgi(asgi) as url, asgi.router.lifespan_context(asgi):
        yield f"{url}/tg/hook"


def _storm(rng: random.Random, update: Any, older: list[Any], post: Any) -> Awaitable[list[None]]:
    """The update two to five times, and up to two older ones, all at once in random order."""
    copies = [update] * rng.randint(2, 5) + rng.sample(older, min(len(older), rng.randint(0, 2)))
    rng.shuffle(copies)
    return asyncio.gather(*(post(u) for u in copies))


async def test_a_redelivery_storm_on_the_telegram_webhook_stores_once_and_repeats_nothing(
    app: App,
) -> None:
    """Every update POSTed two to five times at once, older updates of the same worker mixed
    in out of order, five workers at a time; at the end a few of every worker's updates once
    more, all shuffled together.
    Each answer is stored once and no worker gets any message twice."""
    codes = await open_round(app, factory_codes(STORM_WORKERS))
    rng = random.Random("storm")
    statuses: Counter[int | None] = Counter()
    async with (
        TelegramStandin(TOKEN, webhook_timeout=60) as api,
        telegram_webhook(app, api) as hook,
    ):
        log = ChatLog(api)
        workers = [TelegramWorker(api, log, i, codes) for i in range(STORM_WORKERS)]

        async def post(update: dict[str, Any]) -> None:
            response = await api.deliver_raw(update, secret=SECRET, url=hook)
            statuses[response.status_code if response is not None else None] += 1

        async def storm(worker: TelegramWorker, update: dict[str, Any]) -> None:
            await _storm(rng, update, [e.update for e in worker.injected[:-1]], post)

        for w in workers:
            w.after_inject = storm
        await asyncio.gather(*(w.run() for w in workers))
        late = [u for w in workers for u in rng.sample([e.update for e in w.injected], LATE_COPIES)]
        rng.shuffle(late)
        await asyncio.gather(*(post(u) for u in late))

    assert set(statuses) == {200}
    print(f"\ntelegram storm: {statuses[200]} POSTs of {sum(len(w.injected) for w in workers)}")
    for w in workers:
        assert w.unasked_repeats() == [], w.chat
        assert len(log.messages(w.chat)) == sum(s.action != "tick" for s in SCRIPT)
    await _assert_every_answer_once(app, workers)


async def test_a_redelivery_storm_of_whatsapp_webhook_posts_stores_once_and_repeats_nothing(
    app: App,
) -> None:
    """Meta's side: each delivery POSTed two to five times at once, signed, with older ones
    mixed in; then a few of every worker's once more, shuffled. Each answer once, no message
    twice."""
    codes = await open_round(app, factory_codes(STORM_WORKERS))
    rng = random.Random("whatsapp-storm")
    statuses: Counter[int] = Counter()
    async with (
        WhatsAppStandin(WA_TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api,
        running(app, api),
    ):
        workers = [WhatsAppWorker(api, i, codes) for i in range(STORM_WORKERS)]

        async def post(payload: dict[str, Any]) -> None:
            statuses[(await api.deliver(payload, retry=False)).status_code] += 1

        async def storm(worker: WhatsAppWorker, payload: dict[str, Any]) -> None:
            await _storm(rng, payload, worker.payloads[:-1], post)

        await asyncio.gather(*(w.run(storm) for w in workers))
        late = [p for w in workers for p in rng.sample(w.payloads, LATE_COPIES)]
        rng.shuffle(late)
        await asyncio.gather(*(post(p) for p in late))

    assert set(statuses) == {200}
    for w in workers:
        assert wa_repeats(api.messages_to(w.worker)) == []
    await _assert_whatsapp_answers_once(app, workers)


async def _assert_whatsapp_answers_once(app: App, workers: list[WhatsAppWorker]) -> None:
    assert all(w.finished for w in workers)
    stored = await stored_answers(app)
    done = await responses(app)
    for w in workers:
        assert stored[w.factory] == dict.fromkeys(ALL_ANSWERS, 1), w.factory
        assert done[w.factory] == ("complete", pay_of(w.index))
    assert await count_rows(app, ProcessedMessage) == sum(len(w.payloads) for w in workers)
    assert await count_rows(app, OutboxMessage) == 0


# ------------------------------------------------------------------------------ slow API
# The faults here are the API's; the database under them makes no difference (and the
# PostgreSQL variants of the other tests cover it), so these two run on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SLOW_WORKERS = 6
# Seconds the Bot API / Graph API client waits for an answer in these tests, and how late the
# stand-in answers the calls it delays: far apart, so a loaded machine makes no other call late.
CLIENT_TIMEOUT = 2.0
LATE = 5.0


@sqlite_only
async def test_a_slow_and_failing_bot_api_is_retried_and_nothing_is_sent_twice(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """The stand-in answers two sendMessage and two editMessageText calls after 5 s (the bot
    gives up after 2 s, but the messages were sent or edited), answers 502 (nginx's HTML
    page) and 500 to sends, an edit and a getUpdates, and 429 retry_after=1 four times.

    Nothing is lost and each answer is stored once. A send that timed out may have arrived
    (here it did): it is in doubt and not sent again when the update is retried — no worker
    gets a question twice. Failures Telegram answered (502, 500, 429) are sent again.
    """
    caplog.set_level(logging.WARNING)
    codes = await open_round(app, factory_codes(SLOW_WORKERS))
    async with TelegramStandin(TOKEN) as api:
        telegram_settings(app, api)
        log = ChatLog(api)
        workers = [TelegramWorker(api, log, i, codes) for i in range(SLOW_WORKERS)]
        total = SLOW_WORKERS * sum(s.action != "tick" for s in SCRIPT)

        def failed(status: int) -> int:
            return sum(c.status == status for c in api.requests)

        application = application_with_timeout(app, CLIENT_TIMEOUT)
        async with polling_bot(app, api, application) as polling:
            running = asyncio.ensure_future(asyncio.gather(*(w.run() for w in workers)))
            try:
                await api.wait_until(lambda: log.total_messages >= total // 5, 60)
                # A question goes out as a message or as an edit of the pressed one: both
                # answered late (the edits arrive too) are in doubt, not sent again.
                api.delay("sendMessage", LATE, times=2)
                api.delay("editMessageText", LATE, times=2)
                await api.wait_until(
                    lambda: sum((c.seconds or 0) > CLIENT_TIMEOUT for c in api.requests) == 4, 60
                )
                await api.wait_until(lambda: log.total_messages >= total * 2 // 5, 60)
                page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                api.fail_next("sendMessage", times=3, error_code=502, body=page)
                api.fail_next("editMessageText", times=1, error_code=500)
                api.fail_next("getUpdates", times=1, error_code=502)
                await api.wait_until(lambda: failed(502) == 4 and failed(500) == 1, 60)
                await api.wait_until(lambda: log.total_messages >= total * 3 // 5, 60)
                api.fail_next("sendMessage", times=4, error_code=429, retry_after=1)
                await asyncio.wait_for(running, 120)
            finally:
                running.cancel()
            assert not polling.done()

    late = [c for c in api.requests if c.ok and (c.seconds or 0) > CLIENT_TIMEOUT]
    assert Counter(c.method for c in late) == {"sendMessage": 2, "editMessageText": 2}
    assert failed(429) == 4
    timed_out = [r for r in caplog.records if "update failed (TimedOut)" in r.getMessage()]
    assert len(timed_out) == 4
    assert [pair for w in workers for pair in w.unasked_repeats()] == []
    await _assert_every_answer_once(app, workers)


@sqlite_only
async def test_a_failing_and_slow_graph_api_is_retried_and_nothing_is_sent_twice(
    app: App,
) -> None:
    """WhatsApp: the Graph API stand-in answers 500 (131000) three times, refuses with the
    throughput (130429) and pair-rate (131056) limits, and answers two sends after 5 s
    when the client waits 2 s. Failed webhooks come again (Meta's retries) and send what
    failed; each answer is stored once; the two sends in doubt (they did arrive) are not
    sent again."""
    codes = await open_round(app, factory_codes(SLOW_WORKERS))
    async with WhatsAppStandin(
        WA_TOKEN, PHONE_NUMBER_ID, APP_SECRET, retry_delays=(0.3, 0.6, 1.2, 2.4, 4.8, 9.6)
    ) as api:
        async with running(app, api, retry_scale=0.05, timeout=httpx.Timeout(CLIENT_TIMEOUT)):
            workers = [WhatsAppWorker(api, i, codes) for i in range(SLOW_WORKERS)]
            total = SLOW_WORKERS * len(SCRIPT)

            async def send(_: WhatsAppWorker, payload: dict[str, Any]) -> None:
                await api.deliver(payload)

            done = asyncio.ensure_future(asyncio.gather(*(w.run(send) for w in workers)))
            try:
                await poll_until(lambda: len(api.sent) >= total // 5, 60)
                api.fail_next(131000, times=3, status=500)
                await poll_until(lambda: len(api.sent) >= total * 2 // 5, 60)
                api.fail_next(130429, times=2)
                api.fail_next(131056, times=1)
                await poll_until(lambda: len(api.sent) >= total * 3 // 5, 60)
                api.delay(LATE, times=2)
                await asyncio.wait_for(done, 120)
                await api.settle()
            finally:
                done.cancel()

    statuses = Counter(status for status, _ in api.calls)
    assert statuses[500] == 3 and statuses[400] == 3 and len(api.delayed) == 2
    assert Counter(d.status for d in api.deliveries)[500] >= 3  # Meta had to deliver again
    assert [pair for w in workers for pair in wa_repeats(api.messages_to(w.worker))] == []
    await _assert_whatsapp_answers_once(app, workers)


@sqlite_only
async def test_an_update_whose_reply_telegram_refuses_for_good_does_not_hold_up_the_others(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """Polling cannot move past an update that fails. One that fails because Telegram refuses
    the request itself (400) is given up after three attempts; the next worker is answered,
    and the first can start again."""
    caplog.set_level(logging.WARNING)
    codes = await open_round(app, factory_codes(2))
    async with TelegramStandin(TOKEN) as api:
        telegram_settings(app, api)
        log = ChatLog(api)
        first, second = (TelegramWorker(api, log, i, codes) for i in range(2))
        async with polling_bot(app, api) as polling:
            refused = "Bad Request: message is too long"
            # Refused at every attempt the bot makes (it would succeed at a fourth).
            api.fail_next("sendMessage", times=3, error_code=400, description=refused)
            api.user_sends_start(first.chat, first.code)
            await api.wait_until(lambda: api.call_count("sendMessage") == 1, 30)
            await second.do(SCRIPT[0])  # waits behind the refused update, then is answered
            assert log.messages(first.chat) == []
            await first.do(SCRIPT[0])  # not stuck: asked again, it gets the question
            assert not polling.done()
    given_up = [r for r in caplog.records if "given up" in r.getMessage()]
    assert [r.getMessage() for r in given_up] == ["update failed (BadRequest) 3 times; given up"]
