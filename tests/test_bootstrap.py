"""Start-up validation and housekeeping: what a CSO editing data files or running an instance
for months runs into."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.bootstrap import App, build_app
from bot.config import PROJECT_ROOT, Settings
from bot.storage.models import ContactAddress, OutboxMessage, ProcessedMessage
from bot.survey.definition import SurveyError
from bot.survey.state import ResponseCompleted
from tests.test_service import Worker, complete_survey, open_round


def _copy_surveys(tmp_path: Path) -> Path:
    target = tmp_path / "surveys"
    shutil.copytree(PROJECT_ROOT / "surveys", target)
    return target


async def test_a_misspelt_grade_is_refused_at_start_up(tmp_path: Path) -> None:
    surveys = _copy_surveys(tmp_path)
    path = surveys / "sindh-minimum-wage.yaml"
    path.write_text(path.read_text().replace("grade: semi_skilled", "grade: semiskilled", 1))
    settings = Settings(home=tmp_path / "h", surveys_dir=surveys, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(SurveyError, match=r"question 'job' choice 'operator': unknown grade"):
        await build_app(settings, upgrade=False)


async def test_a_button_label_too_long_for_whatsapp_is_refused_at_start_up(tmp_path: Path) -> None:
    surveys = _copy_surveys(tmp_path)
    path = surveys / "sindh-minimum-wage.yaml"
    path.write_text(
        path.read_text().replace('label: "Cash"', 'label: "Cash in an envelope, by hand"')
    )
    settings = Settings(home=tmp_path / "h", surveys_dir=surveys, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(
        SurveyError, match=r"payment_method.*\[en\].*30 characters, WhatsApp allows 24"
    ):
        await build_app(settings, upgrade=False)


async def test_an_open_round_keeps_its_survey_when_the_file_is_edited(
    app: App, settings: Settings, tmp_path: Path
) -> None:
    codes = await open_round(app)
    w = Worker(app, "7001")
    await w.start(codes["KHI-001"])
    for v in ("en", "yes", "yes"):
        await w.press(v)
    surveys = _copy_surveys(tmp_path)
    path = surveys / "sindh-minimum-wage.yaml"
    path.write_text(path.read_text().replace("What is your job?", "Which work do you do?"))
    edited = await build_app(settings.model_copy(update={"surveys_dir": surveys}))
    try:
        w.app = edited
        await w.press("helper")
        await w.type("back")
        assert "What is your job?" in w.outcome.replies[-1].text  # the round's own version
        fresh = Worker(edited, "7002")
        await fresh.start()  # no round yet: the file's (edited) survey is the default
        assert fresh.question == "language"
    finally:
        await edited.close()


async def test_old_message_ids_and_expired_opt_ins_are_pruned(app: App) -> None:
    codes = await open_round(app)
    await complete_survey(Worker(app, "8001"), codes["KHI-001"], opt_in="yes")
    async with app.db.transaction() as s:
        handled = await s.scalar(select(func.count()).select_from(ProcessedMessage))
        day = await s.scalar(select(ContactAddress.created_on))
    assert handled and day is not None
    # A reply whose webhook delivery the platform gave up on: never sent, never asked again.
    async with app.db.transaction() as s:
        s.add(
            OutboxMessage(
                message_key="k" * 64,
                channel="telegram",
                position=0,
                reply={"text": "What is your job?"},
                created_at=datetime.combine(day, time(12), UTC),
            )
        )
    assert await app.admin.prune(day + timedelta(days=3)) == {
        "message_ids": 0,
        "opt_in_addresses": 0,
        "unsent_replies": 0,
        "login_throttles": 0,
        "chat_message_ids": 0,
    }
    assert await app.admin.prune(day + timedelta(days=8)) == {
        "message_ids": handled,
        "opt_in_addresses": 0,
        "unsent_replies": 1,
        "login_throttles": 0,
        "chat_message_ids": 0,
    }
    assert await app.admin.prune(day + timedelta(days=401)) == {
        "message_ids": 0,
        "opt_in_addresses": 1,
        "unsent_replies": 0,
        "login_throttles": 0,
        "chat_message_ids": 0,
    }


async def test_the_database_pool_size_setting_sizes_the_pool_and_the_service_turns(
    settings: Settings,
) -> None:
    """An operator running several processes against one PostgreSQL server sizes each pool
    (WAGECHECK_DATABASE_POOL_SIZE); the service handles two thirds of it at once there, one
    transaction at a time on SQLite."""
    app = await build_app(settings.model_copy(update={"database_pool_size": 6}))
    try:
        assert app.db.engine.pool.size() == 6  # type: ignore[attr-defined]
        assert app.db.engine.pool._max_overflow == 5  # type: ignore[attr-defined]
        codes = await open_round(app)
        w = Worker(app, "pool")
        await complete_survey(w, codes["KHI-001"])
        assert any(isinstance(e, ResponseCompleted) for e in w.outcome.events)
        assert app.service._turns._value == (1 if app.db.is_sqlite else 4)
    finally:
        await app.close()


def test_a_logged_exception_names_its_types_and_frames_never_its_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Operators see what failed and where; an exception's text (SQL parameters, a URL with
    the bot token, a phone number in an API error) never reaches the log."""
    import logging

    from bot.bootstrap import configure_logging

    def store() -> None:
        raise ValueError("INSERT … [parameters: ('+923001234567', 'answer')]")

    def handle() -> None:
        try:
            store()
        except ValueError as exc:
            raise RuntimeError("https://api.telegram.org/bot4242:SECRET/sendMessage") from exc

    root = logging.getLogger()
    kept = root.handlers[:], root.level
    configure_logging("INFO")
    try:
        handle()
    except RuntimeError:
        logging.getLogger("bot.test").exception("update failed")
    finally:
        root.handlers[:], _ = kept
        root.setLevel(kept[1])
    [line] = capsys.readouterr().err.splitlines()
    assert 'msg="update failed" error=RuntimeError<-ValueError where="' in line
    assert "test_bootstrap.py:" in line and " handle < " in line and " store < " in line
    for secret in ("923001234567", "SECRET", "answer", "parameters"):
        assert secret not in line
