"""Start-up errors an operator meets (issue 18 §3 and §5): one line each on stderr, naming
the setting and a right value, exit code 2, a traceback only with --debug."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from bot.bootstrap import App
from bot.cli import app
from bot.config import PROJECT_ROOT
from tests.conftest import PG_URL

runner = CliRunner()


def invoke(home: Path, *args: str, **env: str) -> tuple[int, str]:
    clean = {k: None for k in os.environ if k.startswith("WAGECHECK_")}
    result = runner.invoke(
        app, list(args), env={**clean, "WAGECHECK_HOME": str(home), "COLUMNS": "300", **env}
    )
    output = (
        result.output
        if result.exception is None or result.exit_code == 2
        else repr(result.exception)
    )
    return result.exit_code, output


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WAGECHECK_DATABASE_URL": "postgres://u:p@db/wc"}, "postgresql+asyncpg://USER"),
        ({"WAGECHECK_DATABASE_URL": "postgresql://u:p@db/wc"}, "needs the asyncpg driver"),
        ({"WAGECHECK_DATABASE_URL": "sqlite:///x.db"}, "sqlite+aiosqlite:////absolute"),
        (
            {"WAGECHECK_DATABASE_URL": "postgresql+asyncpg://u:p@127.0.0.1:1/wc"},
            "cannot reach the database at postgresql+asyncpg://u:***@127.0.0.1:1/wc",
        ),
        (
            {"WAGECHECK_TELEGRAM_WEBHOOK_URL": "http://bot.example.org/telegram"},
            "WAGECHECK_TELEGRAM_WEBHOOK_URL must be an https:// URL",
        ),
        ({"WAGECHECK_TELEGRAM_TOKEN": "not-a-token"}, "WAGECHECK_TELEGRAM_TOKEN is not a bot"),
        ({"WAGECHECK_SECRET_KEY": "short"}, "WAGECHECK_SECRET_KEY must be at least 32"),
    ],
)
def test_a_wrong_setting_is_one_line_and_exit_code_2(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    code, output = invoke(tmp_path / "home", "org", "list", **env)
    assert code == 2, output
    assert expected in output
    assert len(output.strip().splitlines()) == 1, output
    assert "Traceback" not in output


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    code, output = invoke(
        tmp_path / "home",
        "--debug",
        "org",
        "list",
        WAGECHECK_DATABASE_URL="postgresql+asyncpg://u:p@127.0.0.1:1/wc",
    )
    assert code == 2 and "Traceback" in output and "cannot reach the database" in output


def test_a_home_folder_that_cannot_be_written(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o500)
    try:
        code, output = invoke(home, "org", "list")
    finally:
        home.chmod(0o700)
    assert code == 2 and "is not a folder this user" in output


def test_a_home_folder_that_is_a_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    code, output = invoke(home, "org", "list")
    assert code == 2 and "is not a folder this user" in output


def test_a_broken_survey_file_is_one_line(tmp_path: Path) -> None:
    surveys = tmp_path / "surveys"
    shutil.copytree(PROJECT_ROOT / "surveys", surveys)
    path = surveys / "sindh-minimum-wage.yaml"
    path.write_text(path.read_text().replace("grade: semi_skilled", "grade: semiskilled", 1))
    code, output = invoke(tmp_path / "home", "org", "list", WAGECHECK_SURVEYS_DIR=str(surveys))
    assert code == 2 and "unknown grade" in output
    assert len(output.strip().splitlines()) == 1, output


def test_a_wrong_key_and_a_missing_key_are_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert invoke(home, "org", "add", "Karachi Workers Centre")[0] == 0
    key = (home / "secret.key").read_text()
    (home / "secret.key").unlink()
    code, output = invoke(home, "org", "list")
    assert code == 2 and "secret.key is missing" in output
    (home / "secret.key").write_text("w" * 43)
    code, output = invoke(home, "org", "list")
    assert code == 2 and "does not match this database" in output
    (home / "secret.key").write_text(key)
    assert invoke(home, "org", "list")[0] == 0


def test_db_upgrade_dry_run_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, output = invoke(home, "db", "upgrade", "--dry-run")
    assert code == 0 and "would apply 0001: initial schema" in output
    assert "would apply 0014" in output
    assert not (home / "secret.key").exists()
    assert invoke(home, "db", "upgrade")[0] == 0
    code, output = invoke(home, "db", "upgrade", "--dry-run")
    assert code == 0 and "nothing to apply" in output


@pytest.mark.skipif(not PG_URL, reason="needs WAGECHECK_TEST_DATABASE_URL")
def test_a_database_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    assert PG_URL is not None
    url = make_url(PG_URL).set(database="wagecheck_no_such_database")
    code, output = invoke(
        tmp_path / "home",
        "org",
        "list",
        WAGECHECK_DATABASE_URL=url.render_as_string(hide_password=False),
    )
    assert code == 2 and "does not exist: create it" in output, output


# ------------------------------------------------------------------ wagecheck config --check
async def _config_check(env: dict[str, str]) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "config",
        "--check",
        env={**clean, "COLUMNS": "300", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


def _line(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if f" {name}:" in line)


async def test_config_check_passes_on_a_ready_instance(app: App, tmp_path: Path) -> None:
    """Database reachable and current, the key matching its fingerprint, the token accepted
    by (the stand-in of) Telegram, an https webhook: one "ok" line each, exit code 0."""
    from tests.telegram_standin import TelegramStandin

    s = app.settings
    assert s.secret_key is not None
    async with TelegramStandin("4242:TEST-token") as api:
        code, output = await _config_check(
            {
                "WAGECHECK_HOME": str(s.home),
                "WAGECHECK_DATABASE_URL": s.effective_database_url,
                "WAGECHECK_SECRET_KEY": s.secret_key.get_secret_value(),
                "WAGECHECK_TELEGRAM_TOKEN": "4242:TEST-token",
                "WAGECHECK_TELEGRAM_API_URL": api.url,
                "WAGECHECK_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram",
            }
        )
    assert code == 0, output
    assert _line(output, "database").startswith("ok") and "schema current" in output
    assert _line(output, "key").startswith("ok") and "matches" in _line(output, "key")
    assert _line(output, "telegram token").startswith("ok")
    assert "accepted by Telegram: @" in output
    assert _line(output, "telegram webhook").startswith("ok")
    assert s.secret_key.get_secret_value() not in output and "TEST-token" not in output


async def test_config_check_says_what_is_wrong_in_one_line_each(
    app: App, empty_database_url: str, tmp_path: Path
) -> None:
    """A token Telegram refuses, a webhook over plain http, a key that is not the
    database's: FAIL lines and exit code 2; an API that does not answer: "could not check";
    an empty database: migrations to apply."""
    from tests.telegram_standin import TelegramStandin

    s = app.settings
    async with TelegramStandin("4242:TEST-token") as api:
        code, output = await _config_check(
            {
                "WAGECHECK_HOME": str(s.home),
                "WAGECHECK_DATABASE_URL": s.effective_database_url,
                "WAGECHECK_SECRET_KEY": "another-key-" + "y" * 40,
                "WAGECHECK_TELEGRAM_TOKEN": "4242:WRONG-token",
                "WAGECHECK_TELEGRAM_API_URL": api.url,
                "WAGECHECK_TELEGRAM_WEBHOOK_URL": "http://bot.example.org/telegram",
            }
        )
    assert code == 2, output
    assert _line(output, "database").startswith("ok")
    assert _line(output, "key").startswith("FAIL") and "does not match" in output
    assert _line(output, "telegram token").startswith("FAIL") and "@BotFather" in output
    assert _line(output, "telegram webhook").startswith("FAIL")
    assert "Traceback" not in output

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}"
    code, output = await _config_check(
        {
            "WAGECHECK_HOME": str(tmp_path / "empty-home"),
            "WAGECHECK_DATABASE_URL": empty_database_url,
            "WAGECHECK_TELEGRAM_TOKEN": "4242:TEST-token",
            "WAGECHECK_TELEGRAM_API_URL": nobody,
        }
    )
    assert code == 2, output
    assert _line(output, "database").startswith("FAIL") and "wagecheck db upgrade" in output
    assert _line(output, "telegram token").startswith("could not check")
    assert _line(output, "telegram webhook").startswith("not set")
    assert not (tmp_path / "empty-home" / "secret.key").exists()  # checking changes nothing
