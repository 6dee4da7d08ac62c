"""The service, Telegram end-to-end and memory benchmarks still run: each at a tiny size, on
SQLite (and on PostgreSQL when WAGECHECK_TEST_DATABASE_URL is set). They produce their figures
and every simulated worker finishes the survey; how fast is for the benchmarks to say."""

from __future__ import annotations

import pytest

from benchmarks import _common, memory, service, telegram_e2e
from benchmarks._common import MESSAGES_PER_SURVEY
from tests.conftest import PG_URL


@pytest.fixture(params=["sqlite", "postgresql"] if PG_URL else ["sqlite"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The backend to run on; PostgreSQL scratch databases go to the test server."""
    if request.param == "postgresql":
        monkeypatch.setattr(_common, "PG_URL", PG_URL)
    return str(request.param)


async def test_service_benchmark_completes_every_survey_with_figures(backend: str) -> None:
    (result,) = await service.main(["--workers", "6", "--only", backend])
    for run in (result.best_service, result.best_floor):
        assert (run.completed, run.failed) == (6, 0)
        assert len(run.latencies) == 6 * MESSAGES_PER_SURVEY
        assert run.per_second > 0 and run.surveys_per_second > 0
    assert result.responses == 7  # the six workers and the warm-up worker, all complete
    assert result.ratio > 0


async def test_telegram_benchmark_completes_every_survey_through_both_bots(backend: str) -> None:
    (result,) = await telegram_e2e.main(["--workers", "3", "--only", backend])
    for run in (result.best_bot, result.best_echo):
        assert (run.completed, run.failed) == (3, 0)
        assert len(run.latencies) == 3 * MESSAGES_PER_SURVEY
        assert run.bot_cpu > 0 and run.api_calls >= run.messages
    assert result.responses == 4  # three workers and the warm-up worker
    assert result.ratio > 0
    # One message per answer: a press edits the question into the next (13 presses), a new
    # message only for /start and the two typed answers.
    calls = {m: result.best_bot.per_survey(m) for m in telegram_e2e.CALLS}
    assert calls == {"answerCallbackQuery": 13, "editMessageText": 13, "sendMessage": 3}
    assert result.best_echo.per_survey("sendMessage") == MESSAGES_PER_SURVEY


async def test_memory_benchmark_reads_the_bot_process_with_and_without_open_conversations(
    backend: str,
) -> None:
    (result,) = await memory.main(["--conversations", "40", "--workers", "2", "--only", backend])
    (none,), (many,) = result.of("none"), result.of("open")
    assert (none.conversations, many.conversations) == (0, 40)
    for measure in (none, many):
        assert measure.completed == 2 and measure.messages == 2 * MESSAGES_PER_SURVEY
        assert 0 < measure.rss_start and 0 < measure.rss <= measure.hwm
