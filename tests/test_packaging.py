"""The package as a server gets it: a wheel built from a clean copy of the checkout, installed
into an empty virtual environment with the locked runtime dependencies (requirements.lock, as
deploy/Dockerfile installs them), and then used with no checkout in sight: migrate a fresh
database, register a factory, open a round and answer the whole survey in Urdu.

Slow (a wheel build and a virtual environment: about a minute with pip's cache warm), so it
is marked `slow`; it still runs in `make test`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.config import PROJECT_ROOT
from tests.test_cli import URDU_ANSWERS

pytestmark = pytest.mark.slow


def _clean_copy(target: Path) -> Path:
    """The files git knows about (tracked, or new and not ignored): no .venv, no compiled
    catalogs, no build/ left over from an earlier build."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _run(*args: str | Path, cwd: Path, env: dict[str, str], timeout: float = 300, **kw: str):
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,  # type: ignore[arg-type]
    )
    assert result.returncode == 0, f"{args}: {result.stderr[-3000:]}{result.stdout[-2000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = _clean_copy(tmp_path_factory.mktemp("checkout"))
    assert not list(source.rglob("*.mo")), "a compiled catalog is committed"
    dist = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--wheel", "--outdir", dist, source, cwd=source, env=_env())
    [built] = dist.glob("wagecheck-*.whl")
    return built


def _env(**extra: str) -> dict[str, str]:
    """No WAGECHECK_* setting and nothing of the checkout importable."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WAGECHECK_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(PYTHONIOENCODING="utf-8", COLUMNS="160", **extra)
    return env


def test_the_wheel_carries_surveys_and_compiled_catalogs_but_no_po_to_compile(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for survey in (PROJECT_ROOT / "surveys").glob("*.yaml"):
        assert f"bot/_data/surveys/{survey.name}" in names
    for po in (PROJECT_ROOT / "locales").glob("*/LC_MESSAGES/*.po"):
        relative = po.relative_to(PROJECT_ROOT / "locales")
        if po.stem == "words":  # read as .po (bot/survey/parsing.py)
            assert f"bot/_data/locales/{relative}" in names
        else:
            assert f"bot/_data/locales/{relative.with_suffix('.mo')}" in names
            assert f"bot/_data/locales/{relative}" not in names
    assert "bot/_data/docs/report.schema.json" in names
    assert "bot/storage/migrations/env.py" in names
    assert any(n.startswith("bot/storage/migrations/versions/") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "surveys/"))]


def test_the_lock_pins_every_runtime_dependency_within_pyproject() -> None:
    """requirements.lock is `make lock`'s output for the dependencies in pyproject.toml: each
    is pinned, within its range, with hashes; no test or development tool is in it."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    text = (PROJECT_ROOT / "requirements.lock").read_text()
    pins = {
        canonicalize_name(m.group(1)): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", text, re.MULTILINE)
    }
    assert "--hash=sha256:" in text
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement.specifier}: "
            "run `make lock`"
        )
    for extra in project["optional-dependencies"].values():
        for line in extra:
            name = canonicalize_name(Requirement(line).name)
            assert name not in pins, f"{name}, a test or development tool, is in the lock"


def test_the_installed_wheel_answers_a_whole_survey_in_urdu(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = _env()
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    # As deploy/Dockerfile does: the locked dependencies, hash-checked, then the wheel alone.
    _run(
        python, "-m", "pip", "install", "--quiet", "--no-compile", "--require-hashes", "--no-deps",
        "-r", PROJECT_ROOT / "requirements.lock", cwd=tmp_path, env=env,
    )  # fmt: skip
    _run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel, cwd=tmp_path, env=env)
    _run(python, "-m", "pip", "check", cwd=tmp_path, env=env)  # nothing missing or at odds
    installed = _run(python, "-c", "import bot; print(bot.__file__)", cwd=tmp_path, env=env)
    assert str(venv) in installed.stdout  # not the checkout's package

    work = tmp_path / "elsewhere"  # no surveys/ or locales/ beside it
    work.mkdir()
    wagecheck = venv / "bin" / "wagecheck"
    env = _env(WAGECHECK_HOME=str(tmp_path / "home"))

    def cli(*args: str, stdin: str | None = None) -> str:
        return _run(wagecheck, *args, cwd=work, env=env, timeout=120, input=stdin).stdout

    assert "schema is current: True" in cli("db", "upgrade")
    cli("org", "add", "Karachi Workers Centre", "--kind", "cso")
    cli("factory", "add", "KHI-001", "--name", "Korangi Knitwear", "--headcount", "200")
    cli(
        "round",
        "open",
        "--name",
        "Round 1",
        "--cso",
        "Karachi Workers Centre",
        "-f",
        "KHI-001",
        "--accept-stale-wages",
    )
    out = cli("chat", "--lang", "ur", "--factory", "KHI-001", stdin="\n".join(URDU_ANSWERS) + "\n")
    assert "کیا آپ جواب دینے پر راضی ہیں" in out  # the survey's text, from the Urdu catalog
    assert "✓ مشین آپریٹر" in out
    assert "نیم ہنر مند کام" in out and "41,380 روپے" in out  # the wage table was found
    assert "شکریہ!" in out
    assert "Please" not in out  # nothing fell back to English
    assert "KHI-001" in cli("round", "status", "1")
    where = _run(
        python, "-c", "from bot.config import Settings; s = Settings(); "
        "print(s.surveys_dir, s.locales_dir, sep='\\n')", cwd=work, env=env,
    ).stdout.split()  # fmt: skip
    assert all(path.startswith(str(venv)) for path in where), where  # the package's own copy
