"""`WAGECHECK_LOG_FORMAT=json` (docs/operations.md, "Logs"): one JSON object a line, with the
fields a log collector needs and nothing a worker said, no id, no phone number, no secret —
at DEBUG too, where the database driver would otherwise print every statement's parameters."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.bootstrap import configure_logging

SECRET = "the-instance-secret-" + "k" * 40
PHONE = "923001234567"
ANSWERS = [
    "yes",  # consent
    "1",  # this factory
    "2",  # job
    "1",  # permanent
    "1",  # last month
    "yes",  # full month
    "38,750",  # pay
    "yes",  # pay rise
    "no",  # payslip
    "1, 2",  # cash and bank
    "no",  # deductions
    "3",  # prefer not to say
    "My supervisor Rashid keeps half of it",  # comment
    "no",  # no contact
]


def _run(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
    env.update(
        WAGECHECK_HOME=str(home),
        WAGECHECK_SECRET_KEY=SECRET,
        WAGECHECK_LOG_FORMAT="json",
        COLUMNS="160",
        PYTHONIOENCODING="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_a_worker_conversation_logs_json_lines_without_texts_ids_or_secrets(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    _run(home, "org", "add", "Karachi Workers Centre", "--kind", "cso")
    _run(home, "factory", "add", "KHI-001", "--name", "Korangi Knitwear")
    _run(
        home,
        "round",
        "open",
        "--name",
        "R1",
        "--cso",
        "Karachi Workers Centre",
        "-f",
        "KHI-001",
        "--accept-stale-wages",
    )
    chat = _run(
        home,
        "--log-level",
        "DEBUG",
        *("chat", "--lang", "en", "--factory", "KHI-001", "--user", PHONE),
        stdin="\n".join(ANSWERS) + "\n",
    )
    assert "Thank you" in chat.stdout  # the survey was completed
    lines = chat.stderr.splitlines()
    handled = 0
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert {"time", "level", "logger", "message", "pid"} <= set(entry)
        assert entry["time"].endswith("+00:00")
        handled += entry["message"].startswith("handled message kind=")
        for secret in (SECRET, PHONE, "38,750", "38750", "Rashid", "Korangi"):
            assert secret not in line, (secret, line)
    assert handled == len(ANSWERS) + 1  # one line per message (and the start)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)


def test_an_exception_is_logged_by_its_types_and_frames_never_its_message(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")
    log = logging.getLogger("bot.test")
    try:
        try:
            raise KeyError(f"chat 4711 answered {SECRET}")
        except KeyError as exc:
            raise RuntimeError("INSERT ... ('38750', '923001234567')") from exc
    except RuntimeError:
        log.exception("update failed", extra={"channel": "telegram", "text": "my wage is low"})
    entry = json.loads(capsys.readouterr().err.strip())
    assert entry["message"] == "update failed" and entry["level"] == "ERROR"
    assert entry["error"] == "RuntimeError<-KeyError"
    assert "test_json_logs.py:" in entry["where"]
    assert entry["channel"] == "telegram"  # a safe extra is kept, an unknown one is not
    assert "text" not in entry
    dumped = json.dumps(entry)
    for secret in (SECRET, "4711", "38750", PHONE, "my wage"):
        assert secret not in dumped
