"""All configuration in one place: environment variables WAGECHECK_* and an optional .env file."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.paths import CHECKOUT_ROOT, LOCALES_DIR, SURVEYS_DIR

#: The checkout (tests and tools use it); the data files are found through bot.paths.
PROJECT_ROOT = CHECKOUT_ROOT
SECRET_KEY_FILE = "secret.key"

#: Settings that may come from a file instead of the environment (docs/deploy.md, "Secrets"):
#: WAGECHECK_<NAME>_FILE names the file (compose secrets), or a file <name> in systemd's
#: $CREDENTIALS_DIRECTORY (LoadCredential=). An empty file is the same as no setting.
SECRET_FILE_SETTINGS = (
    "secret_key",
    "database_url",
    "database_password",
    "telegram_token",
    "telegram_webhook_secret",
    "whatsapp_token",
    "whatsapp_app_secret",
    "whatsapp_verify_token",
)


class SecretFiles(PydanticBaseSettingsSource):
    """The secret settings read from files: WAGECHECK_<NAME>_FILE, else $CREDENTIALS_DIRECTORY.

    A setting given directly in the environment wins over $CREDENTIALS_DIRECTORY; giving it
    both directly and as WAGECHECK_<NAME>_FILE is an error (which one was meant?)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything happens in __call__

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        for name in SECRET_FILE_SETTINGS:
            variable = f"WAGECHECK_{name.upper()}"
            named = os.environ.get(f"{variable}_FILE")
            if named:
                if os.environ.get(variable):
                    raise ValueError(f"set {variable} or {variable}_FILE, not both")
                path = Path(named)
            elif credentials and not os.environ.get(variable):
                path = Path(credentials) / name
                if not path.is_file():
                    continue
            else:
                continue
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                source = f"{variable}_FILE" if named else "$CREDENTIALS_DIRECTORY"
                raise ValueError(f"{source}: cannot read {path}: {exc.strerror}") from None
            if value:
                found[name] = value
        return found


def mask_url(url: str) -> str:
    """A database URL with its password replaced by ********."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" not in creds:
        return url
    return f"{scheme}://{creds.split(':', 1)[0]}:********@{host}"


TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{10,}$")


def _https_or_loopback(url: str) -> bool:
    """https://, or plain http to this machine (the stand-ins and a local try-out)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    )


class StartupError(Exception):
    """A configuration or instance problem found at start-up, said in one line (naming the
    setting or file and what a right value looks like); the command line prints it and
    exits with code 2, the traceback only with --debug."""


class Settings(BaseSettings):
    """Effective configuration; `wagecheck config` prints it with secrets masked."""

    # An empty variable is the same as none (compose's ${VAR:-} for a setting left unset).
    model_config = SettingsConfigDict(
        env_prefix="WAGECHECK_", env_file=".env", extra="ignore", env_ignore_empty=True
    )

    home: Path = Field(Path("var"), description="instance folder: SQLite file, key, reports")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home")
    database_pool_size: int = Field(
        15,
        ge=1,
        le=200,
        description="database connections each process keeps open (+5 for a moment in a burst)",
    )
    database_password: SecretStr | None = Field(
        None,
        description="password put into database_url when the URL has none (so that it can come "
        "from a file: WAGECHECK_DATABASE_PASSWORD_FILE)",
    )
    secret_key: SecretStr | None = Field(
        None, description="instance secret (pseudonyms, encryption); generated in home if unset"
    )
    surveys_dir: Path = Field(SURVEYS_DIR, description="survey definitions")
    locales_dir: Path = Field(LOCALES_DIR, description="gettext catalogs")
    survey: str = Field("sindh-minimum-wage", description="survey id used for new rounds")
    wage_table: str = Field("minimum-wages.yaml", description="file in surveys_dir")
    time_zone: str = Field("Asia/Karachi", description="local time zone of the factories")
    log_level: str = Field("WARNING", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["text", "json"] = Field(
        "text", description="text (key=value lines) or json (one JSON object a line)"
    )
    # Monitoring (docs/operations.md)
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token Prometheus sends for GET /metrics; unset: /metrics is 404",
    )
    processed_message_days: int = Field(
        7, ge=2, description="days to remember handled message ids (redeliveries come within 1)"
    )
    opt_in_days: int = Field(
        400, ge=30, description="days to keep the address of a worker who asked to be invited"
    )
    # Scheduled work and broadcasts (docs/rounds.md)
    quiet_hours_start: time = Field(
        time(21, 0), description="no message to workers from this local time (time_zone) ..."
    )
    quiet_hours_end: time = Field(time(8, 0), description="... until this local time")
    scheduler_lease_seconds: float = Field(
        30,
        ge=2,
        le=600,
        description="how long the scheduler's lease lasts unrenewed: a second `wagecheck "
        "scheduler` takes over this long after the first died (renewed every sixth of it)",
    )
    scheduler_tick_seconds: float = Field(
        60,
        ge=0.5,
        le=3600,
        description="how often the scheduler follows round changes, queues due reminders and "
        "sends what the outbox holds",
    )
    daily_status_hour: int = Field(
        9, ge=0, le=23, description="local hour of the daily status message to CSO members"
    )
    # Web portal (docs/portal.md)
    web_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="public root URL of the portal, for invite and log-in links (https:// in "
        "production: cookies are then sent only over HTTPS)",
    )
    web_trusted_proxies: str = Field(
        "",
        description="addresses or networks (comma-separated) of the reverse proxies in front of "
        "the portal whose X-Forwarded-For is believed; empty: the client is the socket's peer",
    )
    # Telegram (docs: README "Telegram")
    telegram_token: SecretStr | None = Field(None, description="bot token from @BotFather")
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Bot API server root (self-hosted or stand-in)"
    )
    telegram_bot_username: str | None = Field(
        None, description="bot username for t.me links (asked from Telegram if unset)"
    )
    telegram_webhook_url: str | None = Field(None, description="public HTTPS URL of the webhook")
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="secret Telegram sends back in X-Telegram-Bot-Api-Secret-Token"
    )
    telegram_rate_overall: float = Field(30, gt=0, description="messages per second, all chats")
    telegram_rate_per_chat: float = Field(1, gt=0, description="messages per second, one chat")
    telegram_max_retries: int = Field(5, ge=0, description="retries after a 429 (RetryAfter)")
    telegram_connections: int = Field(
        16,
        ge=1,
        le=256,
        description="connections to the Bot API at once (more cost CPU on every request)",
    )
    # WhatsApp Cloud API (docs/whatsapp.md)
    whatsapp_token: SecretStr | None = Field(None, description="permanent token of a system user")
    whatsapp_phone_number_id: str | None = Field(
        None, description="phone number ID from WhatsApp Manager (not the number itself)"
    )
    whatsapp_app_secret: SecretStr | None = Field(
        None, description="app secret: every webhook POST is signed with it"
    )
    whatsapp_verify_token: SecretStr | None = Field(
        None, description="token Meta sends back when it verifies the webhook URL"
    )
    whatsapp_api_url: str = Field(
        "https://graph.facebook.com/v25.0", description="Graph API root with version (or stand-in)"
    )
    whatsapp_number: str | None = Field(
        None, description="the public number, international digits, for wa.me links (e.g. 9221...)"
    )
    whatsapp_webhook_path: str = Field("/whatsapp", description="path of the webhook URL")
    whatsapp_rate: float = Field(80, gt=0, description="messages per second, all workers")
    whatsapp_rate_per_recipient: float = Field(
        0.16, gt=0, description="messages per second to one worker (Meta's pair limit)"
    )
    whatsapp_max_retries: int = Field(5, ge=0, description="retries after 130429 or 131056")
    whatsapp_reminder_templates: dict[str, str] = Field(
        {
            "ur": "wagecheck_reminder:ur",
            "sd": "wagecheck_reminder:ur",
            "en": "wagecheck_reminder:en",
        },
        description="survey language -> approved template name:language code (reminders)",
    )
    whatsapp_invitation_templates: dict[str, str] = Field(
        {
            "ur": "wagecheck_invitation:ur",
            "sd": "wagecheck_invitation:ur",
            "en": "wagecheck_invitation:en",
        },
        description="survey language -> approved template name:language code (invitations)",
    )
    k_brand: int = Field(10, ge=5, description="small-cell threshold for brand-facing output")
    k_cso: int = Field(5, ge=5, description="small-cell threshold for CSO-facing output")
    # One question, "were at least this share of workers paid the minimum?", answered with 95%
    # confidence or called inconclusive (docs/report-format.md, "Verdict").
    verdict_likely_ok_lower: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="verdict 'minimum likely met' when the 95% interval's lower bound >= this",
    )
    verdict_likely_below_upper: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="verdict 'minimum likely not met' when the 95% interval's upper bound < this",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then secret files, then .env."""
        return (
            init_settings,
            env_settings,
            SecretFiles(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    @field_validator("web_trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for item in (v.strip() for v in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(
                        f"WAGECHECK_WEB_TRUSTED_PROXIES: {item!r} is not an address or a network"
                    ) from None
        return value

    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """WAGECHECK_WEB_TRUSTED_PROXIES as networks (an address is a network of one)."""
        return tuple(
            ipaddress.ip_network(item.strip(), strict=False)
            for item in self.web_trusted_proxies.split(",")
            if item.strip()
        )

    @model_validator(mode="after")
    def _verdict_thresholds_do_not_overlap(self) -> Settings:
        if self.verdict_likely_below_upper > self.verdict_likely_ok_lower:
            raise ValueError(
                "WAGECHECK_VERDICT_LIKELY_BELOW_UPPER must not exceed "
                "WAGECHECK_VERDICT_LIKELY_OK_LOWER"
            )
        return self

    @cached_property
    def effective_database_url(self) -> str:
        """The configured URL, or a SQLite file inside the home folder."""
        if self.database_url:
            if self.database_password is None:
                return self.database_url
            return _with_password(self.database_url, self.database_password.get_secret_value())
        return f"sqlite+aiosqlite:///{(self.home / 'wagecheck.db').resolve()}"

    def check(self) -> None:
        """The start-up checks that need no database: one StartupError line each, naming
        the setting and an example of a right value."""
        url = self.effective_database_url
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme in ("postgres", "postgresql") or (
            scheme.startswith("postgresql+") and scheme != "postgresql+asyncpg"
        ):
            raise StartupError(
                f"WAGECHECK_DATABASE_URL starts with {scheme}:// — WageCheck needs the asyncpg "
                "driver: postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE"
            )
        if scheme in ("sqlite", "sqlite+pysqlite"):
            raise StartupError(
                f"WAGECHECK_DATABASE_URL starts with {scheme}:// — write "
                "sqlite+aiosqlite:////absolute/path/wagecheck.db"
            )
        if scheme not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
            raise StartupError(
                "WAGECHECK_DATABASE_URL must be postgresql+asyncpg://USER:PASSWORD@HOST:5432/"
                "DATABASE or sqlite+aiosqlite:////absolute/path/wagecheck.db"
            )
        folder = self.home if self.home.exists() else self.home.resolve().parent
        while not folder.exists():
            folder = folder.parent
        if not os.access(folder, os.W_OK | os.X_OK) or not folder.is_dir():
            raise StartupError(
                f"WAGECHECK_HOME {self.home.resolve()} is not a folder this user "
                f"(uid {os.getuid()}) can write: fix its owner or point WAGECHECK_HOME elsewhere"
            )
        if self.telegram_webhook_url and not _https_or_loopback(self.telegram_webhook_url):
            raise StartupError(
                "WAGECHECK_TELEGRAM_WEBHOOK_URL must be an https:// URL (Telegram sends "
                "webhooks only over HTTPS), e.g. https://bot.example.org/telegram"
            )
        token = self.telegram_token.get_secret_value() if self.telegram_token else None
        if token is not None and not TELEGRAM_TOKEN.match(token):
            raise StartupError(
                "WAGECHECK_TELEGRAM_TOKEN is not a bot token: BotFather gives one like "
                "123456789:AAH-the-rest-of-it (digits, a colon, letters)"
            )

    @property
    def key_file(self) -> Path:
        """Where the instance secret is kept unless WAGECHECK_SECRET_KEY is set."""
        return self.home / SECRET_KEY_FILE

    @property
    def key_source(self) -> str:
        """Where the key comes from, for messages: the setting or the file."""
        return "WAGECHECK_SECRET_KEY" if self.secret_key is not None else str(self.key_file)

    def secret_key_text(self) -> str | None:
        """The instance secret(s) as written (one line per version, docs/privacy.md "Keys"):
        the setting, else the key file; None when neither exists. Never creates a key: a
        key is made only for an empty database (bootstrap.resolve_keyring)."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if len(value.strip()) < 32:
                raise StartupError(
                    "WAGECHECK_SECRET_KEY must be at least 32 characters "
                    "(e.g. the output of: python3 -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))')"
                )
            return value
        try:
            return self.key_file.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StartupError(
                f"cannot read the secret key file {self.key_file}: {exc.strerror}"
            ) from None

    def create_secret_file(self) -> None:
        """Write a new random secret to the key file unless one exists: two processes
        starting at once on an empty database agree on one key."""
        # Written to a file of its own, then linked into place (link fails if the key file
        # exists): another process never reads a key file half written.
        draft = self.key_file.with_name(f".{self.key_file.name}.{os.getpid()}.new")
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48) + "\n")
            os.link(draft, self.key_file)
        except FileExistsError:
            return
        except OSError as exc:
            raise StartupError(
                f"cannot write the secret key file {self.key_file}: {exc.strerror} "
                "(WAGECHECK_HOME must be a folder this user can write)"
            ) from None
        finally:
            draft.unlink(missing_ok=True)

    def masked(self) -> dict[str, str]:
        """Every setting as text, secrets masked, for `wagecheck config`."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********"
            elif value is None and name == "secret_key":
                value = f"(from {self.key_file})"
            elif value is None and name == "database_url":
                value = f"(default) {self.effective_database_url}"
            out[name] = str(value)
        out["database_url"] = mask_url(out["database_url"])
        return out


def _with_password(url: str, password: str) -> str:
    """WAGECHECK_DATABASE_URL with WAGECHECK_DATABASE_PASSWORD put in after the user name."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    creds, at, host = netloc.rpartition("@")
    if not sep or not at or not creds:
        raise ValueError(
            "WAGECHECK_DATABASE_PASSWORD needs a user name in WAGECHECK_DATABASE_URL, e.g. "
            "postgresql+asyncpg://wagecheck@db/wagecheck"
        )
    if ":" in creds:
        raise ValueError(
            "WAGECHECK_DATABASE_URL has a password already: leave out WAGECHECK_DATABASE_PASSWORD"
        )
    return f"{scheme}://{creds}:{quote(password, safe='')}@{host}{slash}{path}"
