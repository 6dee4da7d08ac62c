"""A stand-in for the Telegram Bot API, for tests: a real HTTP server the real
python-telegram-bot client talks to.

    async with TelegramStandin(token="123:ABC") as api:
        app = (
            ApplicationBuilder().token(api.token)
            .base_url(api.base_url).base_file_url(api.base_file_url).build()
        )
        ...
        api.user_sends_start(1001, payload="F1234")
        replies = await api.wait_for_messages(1001, 1)
        api.user_presses(1001, replies[0].message_id, "lang:ur")

What it does, like Telegram (https://core.telegram.org/bots/api):

* ``POST``/``GET`` ``/bot<token>/<method>`` with parameters from a JSON body, an urlencoded or
  multipart form, or the query string; method names are case-insensitive. Answers
  ``{"ok": true, "result": ...}``, or ``{"ok": false, "error_code": ..., "description": ...}``
  with the same HTTP status: 401 for another token, 404 for an unknown method, 400 for a bad
  request (empty or too long text, HTML/MarkdownV2 that does not parse, callback_data over 64
  bytes, "message is not modified", an unknown callback query, ...), 403 once a user blocked
  the bot, 409 for getUpdates while a webhook is set or when a newer getUpdates takes over.
* Updates wait in one queue until confirmed: ``getUpdates`` (long polling, ``offset`` confirms,
  a negative offset keeps the last ones) or, while a webhook is set, POSTs to the webhook (with
  ``X-Telegram-Bot-Api-Secret-Token``), one at a time and in order, retried with back-off on a
  non-2xx answer or a connection error until delivered. ``deleteWebhook`` hands what is still
  undelivered back to ``getUpdates``. A webhook answer may carry a method call, which is run.
* Message ids count per chat, shared by the worker's and the bot's messages.
* Files the bot uploads are kept (bytes, file name, type); ``getFile`` and
  ``/file/bot<token>/<path>`` serve them and the files workers send.

What it does not do: inline mode, payments, groups beyond plain group messages, message
reactions, Telegram's own flood control unless ``enforce_rate_limits`` is called, HTTPS.

Controls (plain methods; everything runs in the test's event loop, so call them from its
coroutines):

* worker input, each returning the Update dict it queued: ``user_sends_text``,
  ``user_sends_start(chat, payload)``, ``user_sends_command``, ``user_presses(chat, message_id,
  data)``, ``user_taps(chat, "button text")``, ``user_sends_voice/sticker/photo/location/
  contact/document``, ``user_edits_message``, ``user_blocks_bot``/``user_unblocks_bot``,
  ``group_message``; ``user(chat, language_code=...)`` sets the worker's profile.
* what the bot did: ``sent``, ``messages_to``, ``last_message``, ``edits_to``, ``message``
  (current state), ``buttons``/``button_rows``, ``callback_answer``, ``send_times``,
  ``requests``/``calls``/``call_count``/``calls_of``, ``commands_for``, ``webhook``;
  waiting: ``wait_for_messages``, ``wait_for_call``, ``wait_until``, ``wait_delivered``.
* faults: ``fail_next``, ``delay``, ``enforce_rate_limits``; webhooks: ``deliver_raw``,
  ``deliveries``, ``delivery_stats``, ``pending_updates``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import math
import re
import socket
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "ApiError",
    "Call",
    "DeliveryAttempt",
    "Sent",
    "TelegramStandin",
    "UploadedFile",
    "parse_multipart",
    "render_text",
    "serve_asgi",
]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Sent by default: everything except these (Bot API, getUpdates.allowed_updates).
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MESSAGE_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LEADING_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,64})?")
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
# Parameters that are strings even when they look like JSON ("123", "true").
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "secret_token",
        "url",
        "callback_query_id",
        "inline_message_id",
        "language_code",
        "action",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "emoji",
        "file_id",
        "document",
        "photo",
        "voice",
        "audio",
        "video",
        "animation",
        "sticker",
        "thumbnail",
        "description",
        "short_description",
        "name",
        "title",
    }
)
# Parameters that are JSON-serialised objects even inside a JSON body.
_OBJECT_PARAMS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "scope",
        "menu_button",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "media",
    }
)
_UNSET: Any = object()  # "not given", where None means "leave the field out"


class ApiError(Exception):
    """An unsuccessful Bot API answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self,
        error_code: int,
        description: str,
        parameters: Mapping[str, Any] | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = dict(parameters) if parameters else None
        self.body = body

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            data["parameters"] = self.parameters
        return data

    def response(self) -> Response:
        if self.body is not None:
            return Response(self.body, status_code=self.error_code, media_type="text/html")
        return JSONResponse(self.payload(), status_code=self.error_code)


def _bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


@dataclass
class UploadedFile:
    """A file part of a multipart request (or a file a worker sent)."""

    field: str
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class Call:
    """One request to the Bot API, whatever came of it."""

    method: str  # canonical spelling ("sendMessage") when known, else as requested
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    at: float  # time.monotonic()
    source: str = "http"  # "http" or "webhook-reply"
    status: int | None = None
    response: dict[str, Any] | None = None
    answered_at: float | None = None  # time.monotonic() when the answer was ready

    @property
    def seconds(self) -> float | None:
        """How long the answer took (a client with a shorter timeout gave up before it)."""
        return None if self.answered_at is None else self.answered_at - self.at

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Sent:
    """Something the bot did in a chat: a message sent or edited or deleted, a callback
    answered, a chat action. ``message`` is the Message object Telegram answered with (a
    snapshot; ``api.message(chat_id, message_id)`` has the current state)."""

    method: str
    params: dict[str, Any]
    chat_id: int | str | None
    at: float
    files: dict[str, UploadedFile] = field(default_factory=dict)
    message: dict[str, Any] | None = None

    @property
    def message_id(self) -> int | None:
        if self.message is not None:
            return self.message["message_id"]
        value = self.params.get("message_id")
        return int(value) if value is not None else None

    @property
    def raw_text(self) -> str | None:
        """The text (or caption) as the bot sent it, markup included."""
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    @property
    def text(self) -> str | None:
        """The text (or caption) as the worker sees it: HTML/Markdown rendered."""
        if self.message is not None:
            return self.message.get("text", self.message.get("caption"))
        return self.raw_text

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        markup = self.params.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    @property
    def file(self) -> UploadedFile | None:
        return next(iter(self.files.values()), None)

    @property
    def file_bytes(self) -> bytes | None:
        upload = self.file
        return upload.content if upload else None


@dataclass
class DeliveryAttempt:
    """One POST of an update to the webhook."""

    update_id: int | None
    url: str
    at: float
    status: int | None  # HTTP status, None when the connection failed
    error: str | None
    secret_sent: str | None
    raw: bool = False  # from deliver_raw()
    response: httpx.Response | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class _Fault:
    error_code: int
    description: str
    retry_after: int | None
    body: bytes | None
    times: int


@dataclass
class _Poller:
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    terminated: bool = False


# --------------------------------------------------------------------------------------------
# Serving an ASGI app on a free port


class _Server(uvicorn.Server):
    """uvicorn without signal handling (the test runner owns the signals) and without the
    0.1 s tick: it stops as soon as it is told to."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterable[None]:  # type: ignore[override]
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the Date and Server headers once
        await self.stopping.wait()


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn in a background task on a free port; yields its root URL
    ("http://127.0.0.1:PORT"). Use it for webhook receivers in tests too."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every keep-alive request waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=3,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn:{port}")
    ready = asyncio.create_task(server.ready.wait())
    try:
        await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            if task.done():
                task.result()  # raises what stopped it
            raise RuntimeError(f"the test server on port {port} did not start")
    except BaseException:
        ready.cancel()
        server.should_exit = server.force_exit = True
        server.stopping.set()
        with contextlib.suppress(BaseException):
            await task
        sock.close()
        raise
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        server.stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=5)
        except TimeoutError:
            server.force_exit = True
            await task
        sock.close()


# --------------------------------------------------------------------------------------------
# Request bodies


def _disposition_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for match in re.finditer(r';\s*([A-Za-z0-9_*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', value):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"'):
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\").replace("%22", '"')
        if key.endswith("*"):  # RFC 5987: utf-8''percent-encoded
            _, _, encoded = raw.partition("''")
            params[key[:-1]] = unquote(encoded, encoding="utf-8")
        else:
            params.setdefault(key, raw)
    return params


def parse_multipart(
    body: bytes, content_type: str
) -> tuple[list[tuple[str, str]], list[UploadedFile]]:
    """multipart/form-data -> (form fields, file parts). Parts with a filename are files."""
    match = re.search(r'boundary=("[^"]+"|[^;\s]+)', content_type)
    if not match:
        raise _bad_request("multipart boundary is missing")
    boundary = match.group(1).strip('"').encode("latin-1")
    fields: list[tuple[str, str]] = []
    files: list[UploadedFile] = []
    chunks = (b"\r\n" + body).split(b"\r\n--" + boundary)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise _bad_request("malformed multipart part")
        headers: dict[str, str] = {}
        for line in head.split(b"\r\n"):
            name, _, value = line.decode("utf-8", "replace").partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = _disposition_params(headers.get("content-disposition", ""))
        name = disposition.get("name", "")
        if "filename" in disposition:
            files.append(
                UploadedFile(name, disposition["filename"], headers.get("content-type"), content)
            )
        else:
            fields.append((name, content.decode("utf-8", "replace")))
    return fields, files


# Telegram lets a bot delete a private chat's messages for 48 hours.
DELETABLE_SECONDS = 48 * 3600


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    params: dict[str, Any] = {
        key: _decode_form_value(key, value) for key, value in request.query_params.multi_items()
    }
    files: dict[str, UploadedFile] = {}
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if body and kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise _bad_request("can't parse JSON object") from exc
        if not isinstance(data, dict):
            raise _bad_request("can't parse JSON object")
        for key, value in data.items():
            if key in _OBJECT_PARAMS and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            params[key] = value
    elif body and kind == "multipart/form-data":
        fields, uploads = parse_multipart(body, content_type)
        params.update((key, _decode_form_value(key, value)) for key, value in fields)
        files = {upload.field: upload for upload in uploads}
    elif body:  # urlencoded, whatever the header says (as Telegram does)
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update((key, _decode_form_value(key, value)) for key, value in pairs)
    return params, files


# --------------------------------------------------------------------------------------------
# Formatted text: what Telegram shows and the entities it reports, or its parse errors


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Text:
    """Rendered text with entities; offsets and lengths in UTF-16 code units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[dict[str, Any]] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += _u16(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.pos > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.pos - start, **extra}
            )

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY = re.compile(r"&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z]{2,8});")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTR = re.compile(r'\s*([A-Za-z-]+)(?:\s*=\s*("[^"]*"|\'[^\']*\'|[^\s>"\']+))?')


def _parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML style: https://core.telegram.org/bots/api#html-style"""

    def offset(i: int) -> int:
        return len(src[:i].encode("utf-8"))

    out = _Text()
    stack: list[tuple[str, int, dict[str, str]]] = []
    i, n = 0, len(src)
    while i < n:
        char = src[i]
        if char == "&":
            match = _HTML_ENTITY.match(src, i)
            decoded = None
            if match:
                name = match.group(1)
                if name.startswith(("#x", "#X")):
                    decoded = chr(int(name[2:], 16)) if int(name[2:], 16) < 0x110000 else None
                elif name.startswith("#"):
                    decoded = chr(int(name[1:])) if int(name[1:]) < 0x110000 else None
                else:
                    decoded = _HTML_NAMED.get(name.lower())
            if match and decoded is not None:
                out.add(decoded)
                i = match.end()
            else:
                out.add("&")
                i += 1
            continue
        if char != "<":
            j = i
            while j < n and src[j] not in "<&":
                j += 1
            out.add(src[i:j])
            i = j
            continue
        start = i
        if src.startswith("</", i):
            end = src.find(">", i)
            if end < 0:
                raise _bad_request(
                    f"can't parse entities: Unclosed end tag at byte offset {offset(start)}"
                )
            name = src[i + 2 : end].strip().lower()
            if not stack:
                raise _bad_request(
                    f"can't parse entities: Unexpected end tag at byte offset {offset(start)}"
                )
            tag, begin, attrs = stack.pop()
            if name != tag:
                raise _bad_request(
                    f"can't parse entities: Unmatched end tag at byte offset {offset(start)}, "
                    f'expected "</{tag}>", found "</{name}>"'
                )
            kind = _HTML_TAGS[tag]
            if tag == "a":
                href = attrs.get("href")
                if href:
                    out.entity("text_link", begin, url=href)
            elif tag == "tg-emoji":
                out.entity("custom_emoji", begin, custom_emoji_id=attrs["emoji-id"])
            elif tag == "blockquote":
                out.entity("expandable_blockquote" if "expandable" in attrs else kind, begin)
            elif tag == "code" and stack and stack[-1][0] == "pre":
                language = attrs.get("class", "")
                if language.startswith("language-"):
                    stack[-1][2]["language"] = language.removeprefix("language-")
            elif tag == "pre" and attrs.get("language"):
                out.entity("pre", begin, language=attrs["language"])
            else:
                out.entity(kind, begin)
            i = end + 1
            continue
        j = i + 1
        while j < n and (src[j].isascii() and (src[j].isalnum() or src[j] == "-")):
            j += 1
        name = src[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise _bad_request(
                f'can\'t parse entities: Unsupported start tag "{name}" '
                f"at byte offset {offset(start)}"
            )
        attrs: dict[str, str] = {}
        while True:
            while j < n and src[j].isspace():
                j += 1
            if j >= n:
                raise _bad_request(
                    f"can't parse entities: Unclosed start tag at byte offset {offset(start)}"
                )
            if src[j] == ">":
                break
            match = _HTML_ATTR.match(src, j)
            if not match or match.end() == j:
                raise _bad_request(
                    f"can't parse entities: Expected equal sign in declaration of an attribute "
                    f"of the tag at byte offset {offset(start)}"
                )
            value = match.group(2) or ""
            if value[:1] in "\"'" and value:
                value = value[1:-1]
            attrs[match.group(1).lower()] = _HTML_ENTITY.sub(
                lambda m: _HTML_NAMED.get(m.group(1).lower(), m.group(0)), value
            )
            j = match.end()
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _bad_request('can\'t parse entities: Tag "span" must have class "tg-spoiler"')
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise _bad_request(
                "can't parse entities: Custom emoji entity must contain a valid custom emoji "
                "identifier"
            )
        stack.append((name, out.pos, attrs))
        i = j + 1
    if stack:
        raise _bad_request(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1][0]}"'
        )
    return out.result()


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
    "`": "Code",
    "```": "Pre",
    "[": "TextUrl",
}
_MDV2_KINDS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
    "`": "code",
}


def _parse_markdown_v2(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's MarkdownV2 style: every reserved character outside markup must be escaped."""

    def offset(i: int) -> int:
        return len(src[:i].encode("utf-8"))

    out = _Text()
    stack: list[tuple[str, int, int, str]] = []  # marker, output start, source index, extra
    quote_start: int | None = None
    i, n = 0, len(src)
    while i < n:
        char = src[i]
        top = stack[-1][0] if stack else None
        if char == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            out.add(src[i + 1])
            i += 2
            continue
        if top in ("`", "```"):
            if top == "```" and src.startswith("```", i):
                _, begin, _, language = stack.pop()
                extra = {"language": language} if language else {}
                out.entity("pre", begin, **extra)
                i += 3
            elif top == "`" and char == "`":
                _, begin, _, _ = stack.pop()
                out.entity("code", begin)
                i += 1
            elif char == "`":
                raise _bad_request(
                    "can't parse entities: Character '`' is reserved and must be escaped with "
                    "the preceding '\\'"
                )
            else:
                out.add(char)
                i += 1
            continue
        at_line_start = i == 0 or src[i - 1] == "\n"
        if char == "\n" and quote_start is not None and not src.startswith(">", i + 1):
            out.entity("blockquote", quote_start)
            quote_start = None
        if char not in _MDV2_RESERVED:
            out.add(char)
            i += 1
            continue
        marker = char
        if src.startswith("```", i):
            marker = "```"
        elif src.startswith("__", i):
            marker = "__"
        elif src.startswith("||", i):
            marker = "||"
        if marker == "```":
            end_of_line = src.find("\n", i + 3)
            language = src[i + 3 : end_of_line].strip() if end_of_line >= 0 else ""
            stack.append(("```", out.pos, i, language))
            i = end_of_line + 1 if end_of_line >= 0 and language else i + 3
        elif marker == "`":
            stack.append(("`", out.pos, i, ""))
            i += 1
        elif marker in ("*", "_", "__", "~", "||"):
            if top == marker:
                _, begin, _, _ = stack.pop()
                out.entity(_MDV2_KINDS[marker], begin)
            else:
                stack.append((marker, out.pos, i, ""))
            i += len(marker)
        elif marker == "[":
            stack.append(("[", out.pos, i, ""))
            i += 1
        elif marker == "]" and top == "[":
            if not src.startswith("(", i + 1):
                raise _bad_request(
                    "can't parse entities: Character ']' is reserved and must be escaped with "
                    "the preceding '\\'"
                )
            j, url = i + 2, []
            while j < n and src[j] != ")":
                if src[j] == "\\" and j + 1 < n:
                    j += 1
                url.append(src[j])
                j += 1
            if j >= n:
                raise _bad_request(
                    f"can't parse entities: Can't find end of a url at byte offset {offset(i + 2)}"
                )
            _, begin, _, _ = stack.pop()
            out.entity("text_link", begin, url="".join(url))
            i = j + 1
        elif marker == ">" and at_line_start:
            if quote_start is None:
                quote_start = out.pos
            i += 1
        else:
            raise _bad_request(
                f"can't parse entities: Character '{char}' is reserved and must be escaped with "
                "the preceding '\\'"
            )
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    if stack:
        marker, _, index, _ = stack[-1]
        raise _bad_request(
            f"can't parse entities: Can't find end of {_MDV2_NAMES[marker]} entity at byte "
            f"offset {offset(index)}"
        )
    return out.result()


def _parse_markdown(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's legacy Markdown style: *bold* _italic_ `code` ```pre``` [text](url)."""
    out = _Text()
    i, n = 0, len(src)
    kinds = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        char = src[i]
        if char == "\\" and i + 1 < n and src[i + 1] in "*_`[":
            out.add(src[i + 1])
            i += 2
        elif char in kinds or char == "[":
            closer = "```" if src.startswith("```", i) else ("]" if char == "[" else char)
            end = src.find(closer, i + len(closer))
            if end < 0:
                raise _bad_request(
                    "can't parse entities: Can't find end of the entity starting at byte offset "
                    f"{len(src[:i].encode('utf-8'))}"
                )
            begin = out.pos
            out.add(src[i + len(closer) : end])
            if closer == "]":
                url_end = src.find(")", end) if src.startswith("(", end + 1) else -1
                if url_end < 0:
                    out.parts[-1] = "[" + out.parts[-1] + "]"
                    out.pos += 2
                    i = end + 1
                    continue
                out.entity("text_link", begin, url=src[end + 2 : url_end])
                i = url_end + 1
            else:
                out.entity("pre" if closer == "```" else kinds[char], begin)
                i = end + len(closer)
        else:
            out.add(char)
            i += 1
    return out.result()


def render_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """What Telegram makes of (text, parse_mode): the text shown and its entities."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    if mode:
        raise _bad_request(f"unsupported parse_mode {parse_mode}")
    return text, list(entities or [])


# --------------------------------------------------------------------------------------------
# The stand-in


def _api(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        function._bot_api_method = name  # type: ignore[attr-defined]
        return function

    return mark


def _png_size(content: bytes) -> tuple[int, int] | None:
    if content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) >= 24:
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    return None


class TelegramStandin:
    """A Telegram Bot API server for one bot token, with controls for tests.

    Read-only state for assertions: ``sent`` (what the bot did in chats), ``requests`` (every
    call), ``calls`` (a Counter per method), ``injected`` (every update made),
    ``deliveries`` (webhook POSTs), ``webhook`` (the current webhook settings or None).
    """

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        username: str = "WageCheckTestBot",
        first_name: str = "WageCheck",
        first_update_id: int = 10_001,
        webhook_retry_delays: Iterable[float] = (0.05, 0.1, 0.2, 0.4),
        webhook_timeout: float = 2.0,
        strict_chats: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("a bot token looks like '123:ABC'")
        self.token = token
        self.bot_user: dict[str, Any] = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.webhook_retry_delays = tuple(webhook_retry_delays) or (0.05,)
        self.webhook_timeout = webhook_timeout
        self.strict_chats = strict_chats
        self.clock = clock

        self.url = ""  # set on entry
        self.sent: list[Sent] = []
        self.requests: list[Call] = []
        self.calls: Counter[str] = Counter()
        self.injected: list[dict[str, Any]] = []
        self.dropped: list[dict[str, Any]] = []  # injected but not of an allowed type
        self.deliveries: list[DeliveryAttempt] = []
        self.webhook: dict[str, Any] | None = None
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.closed = False
        self.logged_out = False

        self._update_ids = itertools.count(first_update_id)
        self._query_ids = itertools.count(4_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._pending: list[dict[str, Any]] = []
        self._allowed_updates: frozenset[str] | None = None  # None: the default set
        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._next_message_id: dict[int | str, int] = defaultdict(lambda: 1)
        self._messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self._queries: dict[str, dict[str, Any]] = {}
        self._files: dict[str, dict[str, Any]] = {}  # file_id -> {"meta", "content", "path"}
        self._paths: dict[str, str] = {}  # file_path -> file_id
        self._blocked: set[int | str] = set()
        self._send_times: dict[int | str, list[tuple[float, bool]]] = defaultdict(list)
        # Accepted sends of the last second, oldest first: the overall flood check stays cheap
        # however many messages a benchmark sends.
        self._recent_ok: deque[float] = deque()
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._delays: dict[str, tuple[float, int | None]] = {}
        self._rate_limits: dict[str, float] | None = None
        self._webhook_last_error: tuple[int, str] | None = None

        self._changed = asyncio.Event()
        self._pollers: list[_Poller] = []
        self._current_poller: _Poller | None = None
        self._webhook_wake = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        self._serving: contextlib.AbstractAsyncContextManager[str] | None = None

        self._handlers: dict[str, tuple[str, Callable[..., Any]]] = {}
        for attribute in dir(type(self)):
            function = getattr(type(self), attribute)
            name = getattr(function, "_bot_api_method", None)
            if name:
                self._handlers[name.lower()] = (name, getattr(self, attribute))

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token itself."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST"])])

    async def __aenter__(self) -> TelegramStandin:
        self._serving = serve_asgi(self.app())
        self.url = await self._serving.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()
        for poller in self._pollers:
            poller.wake.set()
        await self._stop_webhook_worker()
        try:
            if self._serving is not None:
                await self._serving.__aexit__(None, None, None)
        finally:
            if self._client is not None:
                await self._client.aclose()
                self._client = None

    # ---------------------------------------------------------------- HTTP

    async def _endpoint(self, request: Request) -> Response:
        path = request.url.path
        if path.startswith("/file/bot"):
            return self._download(path.removeprefix("/file/bot"))
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z0-9_]*)/?", path)
        if not match:
            return ApiError(404, "Not Found").response()
        if match.group(1) != self.token:
            return ApiError(401, "Unauthorized").response()
        try:
            params, files = await _read_params(request)
        except ApiError as error:
            return error.response()
        except ClientDisconnect:  # a client stopped (SIGTERM) while sending: nothing to answer
            return Response(status_code=400)
        status, payload, body = await self._dispatch(match.group(2), params, files, "http")
        if body is not None:
            return Response(body, status_code=status, media_type="text/html")
        return JSONResponse(payload, status_code=status)

    def _download(self, rest: str) -> Response:
        token, _, file_path = rest.partition("/")
        if token != self.token:
            return ApiError(401, "Unauthorized").response()
        file_id = self._paths.get(file_path)
        if file_id is None:
            return ApiError(404, "Not Found").response()
        stored = self._files[file_id]
        mime = stored["meta"].get("mime_type", "application/octet-stream")
        return Response(stored["content"], media_type=mime)

    async def _dispatch(
        self,
        requested: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        source: str,
    ) -> tuple[int, dict[str, Any], bytes | None]:
        known = self._handlers.get(requested.lower())
        method = known[0] if known else requested
        call = Call(method, params, files, time.monotonic(), source)
        self.requests.append(call)
        self.calls[method] += 1
        self._notify()  # a request came (wait_until on call counts)
        body: bytes | None = None
        try:
            await self._maybe_delay(method)
            if known is None:
                raise ApiError(404, "Not Found")
            self._maybe_fault(method)
            result = await known[1](params, files)
            if isinstance(result, tuple):  # (result, description)
                payload = {"ok": True, "result": result[0], "description": result[1]}
            else:
                payload = {"ok": True, "result": result}
            status = 200
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # malformed params
            error = _bad_request(f"invalid parameters: {exc!r}")
            status, payload, body = error.error_code, error.payload(), None
        except ApiError as error:
            status, payload, body = error.error_code, error.payload(), error.body
            if method in MESSAGE_METHODS:
                with contextlib.suppress(ApiError):
                    self._send_times[self._chat_id(params)].append((call.at, False))
        call.status, call.response = status, payload
        call.answered_at = time.monotonic()
        self._notify()
        return status, payload, body

    async def _maybe_delay(self, method: str) -> None:
        rule = self._delays.get(method)
        if rule is None:
            return
        seconds, times = rule
        if times is not None:
            if times <= 1:
                del self._delays[method]
            else:
                self._delays[method] = (seconds, times - 1)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _maybe_fault(self, method: str) -> None:
        for key in (method, "*"):
            queue = self._faults.get(key)
            if queue:
                fault = queue[0]
                fault.times -= 1
                if fault.times <= 0:
                    queue.popleft()
                parameters = {"retry_after": fault.retry_after} if fault.retry_after else None
                raise ApiError(fault.error_code, fault.description, parameters, fault.body)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ---------------------------------------------------------------- test controls: faults

    def fail_next(
        self,
        method: str,
        times: int = 1,
        error_code: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
        *,
        body: bytes | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` ("*": any method) fail with ``error_code``.
        429 carries ``parameters.retry_after``; ``body`` replaces the JSON answer (say, nginx's
        HTML page for a 502)."""
        if description is None:
            defaults = {
                400: "Bad Request",
                403: "Forbidden: bot was blocked by the user",
                429: f"Too Many Requests: retry after {retry_after}",
            }
            description = defaults.get(error_code) or HTTPStatus(error_code).phrase
        key = "*" if method == "*" else self._canonical(method)
        self._faults[key].append(
            _Fault(
                error_code,
                description,
                retry_after if error_code == 429 else None,
                body,
                times,
            )
        )

    def delay(self, method: str, seconds: float, times: int | None = None) -> None:
        """Answer ``method`` only after ``seconds`` (the next ``times`` calls, or all until
        ``delay(method, 0)``)."""
        key = self._canonical(method)
        if seconds <= 0:
            self._delays.pop(key, None)
        else:
            self._delays[key] = (seconds, times)

    def enforce_rate_limits(
        self,
        per_chat_per_second: float = 1.0,
        per_chat_burst: int = 1,
        group_per_minute: int = 20,
        overall_per_second: float = 30.0,
    ) -> None:
        """From now on answer 429 with retry_after, like Telegram's flood control, to messages
        sent faster than this, in sliding windows: at most ``per_chat_burst`` messages to a
        private chat within ``per_chat_burst / per_chat_per_second`` seconds, at most
        ``group_per_minute`` to a group within 60 s, at most ``overall_per_second`` in all
        within 1 s. (Telegram itself is vaguer; this is a strict referee.)"""
        self._rate_limits = {
            "chat": per_chat_burst,
            "chat_window": per_chat_burst / per_chat_per_second,
            "group": group_per_minute,
            "overall": overall_per_second,
        }

    def call_count(self, method: str) -> int:
        return self.calls[self._canonical(method)]

    def calls_of(self, method: str) -> list[Call]:
        name = self._canonical(method)
        return [call for call in self.requests if call.method == name]

    def send_times(self, chat_id: int | str, include_failed: bool = False) -> list[float]:
        """time.monotonic() of every message sent to the chat (accepted ones only, unless
        include_failed)."""
        return [at for at, ok in self._send_times.get(chat_id, []) if ok or include_failed]

    def _canonical(self, method: str) -> str:
        known = self._handlers.get(method.lower())
        return known[0] if known else method

    def _check_rate(self, chat_id: int | str, chat_type: str) -> None:
        limits = self._rate_limits
        if limits is None:
            return
        now = time.monotonic()
        while self._recent_ok and now - self._recent_ok[0] >= 1.0:
            self._recent_ok.popleft()
        mine = [at for at, ok in self._send_times.get(chat_id, []) if ok]
        checks: list[tuple[Sequence[float], float, float]] = [
            (self._recent_ok, 1.0, limits["overall"])
        ]
        if chat_type == "private":
            checks.append((mine, limits["chat_window"], limits["chat"]))
        else:
            checks.append((mine, 60.0, limits["group"]))
        for times, window, allowed in checks:
            recent = sorted(at for at in times if now - at < window)
            if len(recent) >= allowed:
                oldest = recent[len(recent) - max(int(allowed), 1)]
                wait = max(1, math.ceil(window - (now - oldest)))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    # ---------------------------------------------------------------- test controls: users

    def user(
        self,
        chat_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = _UNSET,
    ) -> dict[str, Any]:
        """The worker of a private chat (made on first use); the arguments update it."""
        profile = self._users.get(chat_id)
        if profile is None:
            profile = {"id": chat_id, "is_bot": False, "first_name": f"Worker{chat_id}"}
            profile["language_code"] = "en"
            self._users[chat_id] = profile
        for key, value in (
            ("first_name", first_name),
            ("last_name", last_name),
            ("username", username),
        ):
            if value is not None:
                profile[key] = value
        if language_code is None:
            profile.pop("language_code", None)
        elif language_code is not _UNSET:
            profile["language_code"] = language_code
        chat = {"id": chat_id, "type": "private", "first_name": profile["first_name"]}
        for key in ("last_name", "username"):
            if key in profile:
                chat[key] = profile[key]
        self._chats[chat_id] = chat
        return copy.deepcopy(profile)

    def _private(
        self, chat_id: int, user: Mapping[str, Any] | None, language_code: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if not isinstance(chat_id, int) or chat_id <= 0:
            raise ValueError("a private chat id is a positive int (groups: group_message)")
        extra = dict(user or {})
        extra.pop("id", None)
        extra.pop("is_bot", None)
        if language_code is _UNSET and "language_code" in extra:
            language_code = extra.pop("language_code")
        profile = self.user(
            chat_id,
            first_name=extra.pop("first_name", None),
            last_name=extra.pop("last_name", None),
            username=extra.pop("username", None),
            language_code=language_code,
        )
        profile.update(extra)
        return profile, copy.deepcopy(self._chats[chat_id])

    def _message(
        self,
        chat: dict[str, Any],
        sender: dict[str, Any],
        date: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        chat_id = chat["id"]
        message_id = self._next_message_id[chat_id]
        self._next_message_id[chat_id] = message_id + 1
        message = {
            "message_id": message_id,
            "from": sender,
            "chat": chat,
            "date": int(self.clock()) if date is None else date,
            **{key: value for key, value in content.items() if value is not None},
        }
        self._messages[(chat_id, message_id)] = message
        return message

    def _user_message(
        self,
        chat_id: int,
        user: Mapping[str, Any] | None,
        language_code: str | None,
        date: int | None = None,
        reply_to_message_id: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        sender, chat = self._private(chat_id, user, language_code)
        if reply_to_message_id is not None:
            replied = self._messages.get((chat_id, reply_to_message_id))
            if replied is None:
                raise ValueError(f"chat {chat_id} has no message {reply_to_message_id}")
            content["reply_to_message"] = copy.deepcopy(replied)
        message = self._message(chat, sender, date, **content)
        return self._inject("message", message)

    def _new_file(
        self, kind: str, content: bytes, meta: dict[str, Any], folder: str, extension: str
    ) -> dict[str, Any]:
        number = next(self._file_ids)
        file_id = f"{kind}{number:06d}" + hashlib.sha1(content).hexdigest()[:16]
        meta = {
            "file_id": file_id,
            "file_unique_id": f"U{number:06d}",
            **meta,
            "file_size": len(content),
        }
        path = f"{folder}/file_{number}.{extension}"
        self._files[file_id] = {"meta": meta, "content": content, "path": path}
        self._paths[path] = file_id
        return meta

    def user_sends_text(
        self,
        chat_id: int,
        text: str,
        *,
        user: Mapping[str, Any] | None = None,
        language_code: str | None = _UNSET,
        entities: list[dict[str, Any]] | None = None,
        reply_to_message_id: int | None = None,
        date: int | None = None,
    ) -> dict[str, Any]:
        """A worker's text message in a private chat. A leading /command gets its bot_command
        entity, as Telegram adds it. ``language_code=None`` leaves the field out; otherwise it
        is remembered for the chat (first default "en")."""
        if entities is None:
            match = _LEADING_COMMAND.match(text)
            entities = (
                [{"type": "bot_command", "offset": 0, "length": _u16(match.group(0))}]
                if match
                else None
            )
        return self._user_message(
            chat_id,
            user,
            language_code,
            date,
            reply_to_message_id,
            text=text,
            entities=entities,
        )

    def user_sends_command(
        self, chat_id: int, command: str, *args: str, **kwargs: Any
    ) -> dict[str, Any]:
        """``user_sends_command(7, "/help")`` or ``("/start", "F1")``."""
        command = command if command.startswith("/") else f"/{command}"
        return self.user_sends_text(chat_id, " ".join((command, *args)), **kwargs)

    def user_sends_start(
        self, chat_id: int, payload: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """``/start`` or ``/start <payload>`` (a t.me deep link). Unblocks a blocked bot first,
        with the my_chat_member update Telegram sends then."""
        if chat_id in self._blocked:
            self.user_unblocks_bot(chat_id)
        if payload is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload):
            raise ValueError("a deep-link payload is 1-64 characters of A-Za-z0-9_-")
        return self.user_sends_command(chat_id, "/start", *([payload] if payload else []), **kwargs)

    def user_sends_voice(
        self, chat_id: int, duration: int = 3, content: bytes = b"OggS\x00voice", **kwargs: Any
    ) -> dict[str, Any]:
        meta = self._new_file(
            "AwAC", content, {"duration": duration, "mime_type": "audio/ogg"}, "voice", "oga"
        )
        return self._user_message(
            chat_id,
            kwargs.pop("user", None),
            kwargs.pop("language_code", _UNSET),
            voice=meta,
            **kwargs,
        )

    def user_sends_sticker(self, chat_id: int, emoji: str = "👍", **kwargs: Any) -> dict[str, Any]:
        meta = self._new_file(
            "CAAC",
            b"RIFF\x00sticker",
            {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "set_name": "WageCheckTestStickers",
            },
            "stickers",
            "webp",
        )
        return self._user_message(
            chat_id,
            kwargs.pop("user", None),
            kwargs.pop("language_code", _UNSET),
            sticker=meta,
            **kwargs,
        )

    def user_sends_photo(
        self,
        chat_id: int,
        caption: str | None = None,
        content: bytes = b"\xff\xd8\xff\xe0photo",
        **kwargs: Any,
    ) -> dict[str, Any]:
        sizes = [
            self._new_file(
                "AgAC", content, {"width": side, "height": side * 3 // 4}, "photos", "jpg"
            )
            for side in (90, 320, 1280)
        ]
        return self._user_message(
            chat_id,
            kwargs.pop("user", None),
            kwargs.pop("language_code", _UNSET),
            photo=sizes,
            caption=caption,
            **kwargs,
        )

    def user_sends_location(
        self, chat_id: int, latitude: float = 24.8607, longitude: float = 67.0011, **kwargs: Any
    ) -> dict[str, Any]:
        return self._user_message(
            chat_id,
            kwargs.pop("user", None),
            kwargs.pop("language_code", _UNSET),
            location={"latitude": latitude, "longitude": longitude},
            **kwargs,
        )

    def user_sends_contact(
        self, chat_id: int, phone_number: str = "+923001234567", **kwargs: Any
    ) -> dict[str, Any]:
        """The worker shares their own contact (user_id is theirs)."""
        profile = self.user(chat_id)
        contact = {
            "phone_number": phone_number,
            "first_name": profile["first_name"],
            "user_id": chat_id,
        }
        return self._user_message(
            chat_id,
            kwargs.pop("user", None),
            kwargs.pop("language_code", _UNSET),
            contact=contact,
            **kwargs,
        )

    def user_sends_document(
        self,
        chat_id: int,
        filename: str = "payslip.pdf",
        content: bytes = b"%PDF-1.4\n%payslip\n",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        extension = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
        meta = self._new_file(
            "BQAC", content, {"file_name": filename, "mime_type": mime_type}, "documents", extension
        )
        return self._user_message(
            chat_id,
            kwargs.pop("user", None),
            kwargs.pop("language_code", _UNSET),
            document=meta,
            caption=caption,
            **kwargs,
        )

    def user_edits_message(
        self, chat_id: int, message_id: int, text: str, date: int | None = None
    ) -> dict[str, Any]:
        """The worker edits one of their text messages: an edited_message update."""
        stored = self._messages.get((chat_id, message_id))
        if stored is None or stored["from"].get("is_bot"):
            raise ValueError(f"chat {chat_id} has no message {message_id} from the worker")
        stored["text"] = text
        stored["edit_date"] = int(self.clock()) if date is None else date
        return self._inject("edited_message", copy.deepcopy(stored))

    def user_presses(
        self,
        chat_id: int,
        message: int | Sent | Mapping[str, Any],
        callback_data: str,
        *,
        user: Mapping[str, Any] | None = None,
        strict: bool = True,
    ) -> dict[str, Any]:
        """The worker presses an inline button: a callback_query carrying the message as it is
        now. With ``strict`` the message must have a button with this callback_data."""
        if isinstance(message, Sent):
            message_id = message.message_id
        elif isinstance(message, Mapping):
            message_id = message["message_id"]
        else:
            message_id = message
        stored = self._messages.get((chat_id, message_id))  # type: ignore[arg-type]
        if stored is None:
            raise ValueError(f"chat {chat_id} has no message {message_id}")
        if strict and callback_data not in [data for _, data in self.buttons(stored)]:
            raise ValueError(
                f"message {message_id} in chat {chat_id} has no button {callback_data!r}; "
                f"it has {self.buttons(stored)}"
            )
        sender, _ = self._private(chat_id, user, _UNSET)
        query_id = str(next(self._query_ids))
        query = {
            "id": query_id,
            "from": sender,
            "message": copy.deepcopy(stored),
            "chat_instance": str(
                -int(hashlib.sha256(f"{self.token}:{chat_id}".encode()).hexdigest()[:15], 16)
            ),
            "data": callback_data,
        }
        self._queries[query_id] = {"chat_id": chat_id, "message_id": message_id, "answer": None}
        return self._inject("callback_query", query)

    def user_taps(self, chat_id: int, button_text: str, **kwargs: Any) -> dict[str, Any]:
        """Press the button labelled ``button_text`` on the newest message that has it."""
        for sent in reversed(self.messages_to(chat_id)):
            current = self._messages.get((chat_id, sent.message_id))  # type: ignore[arg-type]
            for text, data in self.buttons(current):
                if text == button_text and data is not None:
                    return self.user_presses(chat_id, sent.message_id, data, **kwargs)  # type: ignore[arg-type]
        raise ValueError(f"no message to chat {chat_id} has a button {button_text!r}")

    def user_blocks_bot(self, chat_id: int) -> dict[str, Any]:
        """The worker blocks the bot: a my_chat_member update; sends then answer 403."""
        self._blocked.add(chat_id)
        return self._member_update(chat_id, "member", "kicked")

    def user_unblocks_bot(self, chat_id: int) -> dict[str, Any]:
        self._blocked.discard(chat_id)
        return self._member_update(chat_id, "kicked", "member")

    def _member_update(self, chat_id: int, old: str, new: str) -> dict[str, Any]:
        sender, chat = self._private(chat_id, None, _UNSET)

        def member(status: str) -> dict[str, Any]:
            state: dict[str, Any] = {"user": dict(self.bot_user), "status": status}
            if status == "kicked":
                state["until_date"] = 0
            return state

        return self._inject(
            "my_chat_member",
            {
                "chat": chat,
                "from": sender,
                "date": int(self.clock()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    def group_message(
        self,
        group_chat_id: int,
        text: str,
        *,
        user_id: int = 5_000_001,
        title: str = "Factory floor",
        chat_type: str = "group",
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """A message in a group (use a negative id) from ``user_id``."""
        chat = {"id": group_chat_id, "type": chat_type, "title": title}
        self._chats[group_chat_id] = chat
        sender: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"Member{user_id}"}
        if language_code:
            sender["language_code"] = language_code
        match = _LEADING_COMMAND.match(text)
        entities = (
            [{"type": "bot_command", "offset": 0, "length": _u16(match.group(0))}]
            if match
            else None
        )
        message = self._message(copy.deepcopy(chat), sender, text=text, entities=entities)
        return self._inject("message", message)

    # ---------------------------------------------------------------- updates

    def _inject(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), kind: payload}
        self.injected.append(update)
        allowed = self._allowed_updates
        if (kind in NOT_BY_DEFAULT) if allowed is None else (kind not in allowed):
            self.dropped.append(update)
            return update
        self._pending.append(json.loads(json.dumps(update)))
        for poller in self._pollers:
            poller.wake.set()
        self._webhook_wake.set()
        self._notify()
        return update

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed (polling) or delivered (webhook)."""
        return copy.deepcopy(self._pending)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _set_allowed(self, allowed: Any) -> None:
        if allowed is None:
            return
        if not isinstance(allowed, list):
            raise _bad_request("can't parse allowed updates")
        self._allowed_updates = frozenset(allowed) if allowed else None

    @_api("getUpdates")
    async def _get_updates(self, p: dict[str, Any], _: Any) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(p.get("offset") or 0)
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        timeout = max(float(p.get("timeout") or 0), 0.0)
        self._set_allowed(p.get("allowed_updates"))
        if self._current_poller is not None:
            self._current_poller.terminated = True
            self._current_poller.wake.set()
        poller = _Poller()
        self._current_poller = poller
        self._pollers.append(poller)
        deadline = time.monotonic() + timeout
        try:
            self._confirm(offset)
            while True:
                if offset > 0:
                    self._confirm(offset)
                if self._pending or self._closing.is_set():
                    return copy.deepcopy(self._pending[:limit])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                poller.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poller.wake.wait(), remaining)
                if poller.terminated:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                if self.webhook is not None:
                    return []
        finally:
            self._pollers.remove(poller)
            if self._current_poller is poller:
                self._current_poller = None

    @_api("setWebhook")
    async def _set_webhook(self, p: dict[str, Any], files: Any) -> tuple[bool, str]:
        url = str(p.get("url") or "")
        if not url:
            return await self._delete_webhook(p, files)
        if not url.startswith(("http://", "https://")):
            raise _bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        max_connections = int(p.get("max_connections") or 40)
        if not 1 <= max_connections <= 100:
            raise _bad_request("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed(p.get("allowed_updates"))
        if p.get("drop_pending_updates"):
            self._pending.clear()
        same = self.webhook is not None and self.webhook["url"] == url
        self.webhook = {
            "url": url,
            "secret_token": None if secret is None else str(secret),
            "allowed_updates": p.get("allowed_updates"),
            "drop_pending_updates": bool(p.get("drop_pending_updates")),
            "max_connections": max_connections,
            "ip_address": p.get("ip_address"),
            "has_custom_certificate": "certificate" in files or "certificate" in p,
        }
        self._webhook_last_error = None
        await self._stop_webhook_worker()
        self._webhook_task = asyncio.create_task(self._webhook_worker(), name="standin:webhook")
        if self._current_poller is not None:
            self._current_poller.wake.set()
        return True, "Webhook is already set" if same else "Webhook was set"

    @_api("deleteWebhook")
    async def _delete_webhook(self, p: dict[str, Any], _: Any) -> tuple[bool, str]:
        if p.get("drop_pending_updates"):
            self._pending.clear()
        if self.webhook is None:
            return True, "Webhook is already deleted"
        self.webhook = None
        await self._stop_webhook_worker()
        return True, "Webhook was deleted"

    @_api("getWebhookInfo")
    async def _get_webhook_info(self, _: Any, __: Any) -> dict[str, Any]:
        hook = self.webhook
        info: dict[str, Any] = {
            "url": hook["url"] if hook else "",
            "has_custom_certificate": bool(hook and hook["has_custom_certificate"]),
            "pending_update_count": len(self._pending),
        }
        if hook:
            info["max_connections"] = hook["max_connections"]
            info["ip_address"] = "127.0.0.1"
            if hook["allowed_updates"]:
                info["allowed_updates"] = hook["allowed_updates"]
            if self._webhook_last_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    async def _stop_webhook_worker(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _webhook_worker(self) -> None:
        failures = 0
        me = asyncio.current_task()
        while self.webhook is not None and self._webhook_task is me and not self._closing.is_set():
            if not self._pending:
                self._webhook_wake.clear()
                await self._webhook_wake.wait()
                continue
            update = self._pending[0]
            hook = self.webhook
            attempt = await self._post(hook["url"], update, hook["secret_token"])
            if attempt.ok:
                failures = 0
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
                self._notify()
                continue
            failures += 1
            self._notify()
            delay = self.webhook_retry_delays[min(failures, len(self.webhook_retry_delays)) - 1]
            await asyncio.sleep(delay)

    async def _post(
        self,
        url: str,
        body: Any,
        secret: str | None,
        *,
        raw: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> DeliveryAttempt:
        if self._client is None:  # made on first use: most tests never need it
            self._client = httpx.AsyncClient(timeout=self.webhook_timeout)
        sent_headers = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            sent_headers[SECRET_HEADER] = secret
        content = (
            body
            if isinstance(body, bytes)
            else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        update_id = body.get("update_id") if isinstance(body, dict) else None
        status: int | None = None
        error: str | None = None
        answer: httpx.Response | None = None
        try:
            answer = await self._client.post(url, content=content, headers=sent_headers)
            status = answer.status_code
            if not 200 <= status < 300:
                error = f"Wrong response from the webhook: {status} {answer.reason_phrase}"
        except httpx.HTTPError as exc:
            error = str(exc) or type(exc).__name__
        attempt = DeliveryAttempt(
            update_id, url, time.monotonic(), status, error, secret, raw, answer
        )
        self.deliveries.append(attempt)
        if error and not raw:
            self._webhook_last_error = (int(self.clock()), error)
        if answer is not None and attempt.ok and not raw:
            await self._run_webhook_reply(answer)
        return attempt

    async def _run_webhook_reply(self, answer: httpx.Response) -> None:
        """Telegram runs a method call given in the webhook's answer."""
        if "json" not in answer.headers.get("content-type", ""):
            return
        try:
            data = answer.json()
        except ValueError:
            return
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            params = {key: value for key, value in data.items() if key != "method"}
            for key, value in params.items():
                if key in _OBJECT_PARAMS and isinstance(value, str):
                    with contextlib.suppress(ValueError):
                        params[key] = json.loads(value)
            await self._dispatch(data["method"], params, {}, "webhook-reply")

    async def deliver_raw(
        self,
        body: Any,
        secret: str | None = _UNSET,
        *,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response | None:
        """POST ``body`` (a dict is sent as JSON, bytes/str as they are) once to the webhook
        (or ``url``), with the configured secret unless ``secret`` is given (None: no header).
        Recorded in ``deliveries`` with raw=True; returns the response (None if none came)."""
        target = url or (self.webhook["url"] if self.webhook else None)
        if target is None:
            raise ValueError("no webhook is set and no url given")
        if secret is _UNSET:
            secret = self.webhook["secret_token"] if self.webhook else None
        attempt = await self._post(target, body, secret, raw=True, headers=headers)
        return attempt.response

    def delivery_stats(self) -> dict[str, Any]:
        """Webhook deliveries (raw ones excluded): attempts, delivered, failed, statuses (None
        for a connection error), per update_id the number of attempts, still pending."""
        automatic = [a for a in self.deliveries if not a.raw]
        return {
            "attempts": len(automatic),
            "delivered": sum(a.ok for a in automatic),
            "failed": sum(not a.ok for a in automatic),
            "statuses": [a.status for a in automatic],
            "per_update": dict(Counter(a.update_id for a in automatic)),
            "pending": len(self._pending),
        }

    async def wait_delivered(
        self,
        update: int | Mapping[str, Any] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until the update (or every pending one) was delivered to the webhook."""
        update_id = update["update_id"] if isinstance(update, Mapping) else update

        def delivered() -> bool:
            if update_id is None:
                return not self._pending
            return any(a.ok and a.update_id == update_id and not a.raw for a in self.deliveries)

        await self._wait_until(
            delivered, timeout, lambda: f"not delivered; stats {self.delivery_stats()}"
        )

    # ---------------------------------------------------------------- what the bot did

    def messages_to(self, chat_id: int | str) -> list[Sent]:
        """Messages the bot sent to the chat (sendMessage/sendDocument/sendPhoto), oldest
        first, as sent (edits are in ``edits_to``)."""
        return [s for s in self.sent if s.method in MESSAGE_METHODS and s.chat_id == chat_id]

    def edits_to(self, chat_id: int | str) -> list[Sent]:
        return [s for s in self.sent if s.method in EDIT_METHODS and s.chat_id == chat_id]

    def replies_to(self, chat_id: int | str) -> list[Sent]:
        """What the bot said to the chat, oldest first: messages sent, and messages edited
        with editMessageText (a question edited into the next one is a reply too)."""
        return [
            s
            for s in self.sent
            if s.chat_id == chat_id
            and (s.method in MESSAGE_METHODS or s.method == "editMessageText")
        ]

    def last_message(self, chat_id: int | str) -> Sent | None:
        messages = self.messages_to(chat_id)
        return messages[-1] if messages else None

    def message(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        """A message as it is now (edits applied), or None (never sent, or deleted)."""
        stored = self._messages.get((chat_id, message_id))
        return copy.deepcopy(stored) if stored else None

    def callback_answers(self) -> list[Sent]:
        return [s for s in self.sent if s.method == "answerCallbackQuery"]

    def callback_answer(self, query: str | Mapping[str, Any]) -> dict[str, Any] | None:
        """The bot's answerCallbackQuery parameters for a query (id or the injected update)."""
        if isinstance(query, Mapping):
            query = query["callback_query"]["id"] if "callback_query" in query else query["id"]
        entry = self._queries.get(str(query))
        return entry["answer"] if entry else None

    @staticmethod
    def button_rows(
        message: Sent | Mapping[str, Any] | None,
    ) -> list[list[tuple[str, str | None]]]:
        """Rows of (text, callback_data) of an inline or reply keyboard; callback_data is None
        for other buttons (url, reply keyboard text)."""
        if message is None:
            return []
        if isinstance(message, Sent):
            markup: Any = message.reply_markup
        elif "inline_keyboard" in message or "keyboard" in message:
            markup = message
        else:
            markup = message.get("reply_markup")
        if not isinstance(markup, Mapping):
            return []
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        result = []
        for row in rows:
            line = []
            for button in row:
                if isinstance(button, str):
                    line.append((button, None))
                else:
                    line.append((button.get("text", ""), button.get("callback_data")))
            result.append(line)
        return result

    @classmethod
    def buttons(cls, message: Sent | Mapping[str, Any] | None) -> list[tuple[str, str | None]]:
        """(text, callback_data) of every button, row by row."""
        return [button for row in cls.button_rows(message) for button in row]

    async def wait_for_messages(
        self,
        chat_id: int | str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Sent]:
        """Wait until the bot has sent ``count`` messages (in all) to the chat; returns them.
        Raises AssertionError listing what came on timeout."""
        await self._wait_until(
            lambda: len(self.messages_to(chat_id)) >= count,
            timeout,
            lambda: (
                f"expected {count} message(s) to chat {chat_id}, got "
                f"{[s.text for s in self.messages_to(chat_id)]}"
            ),
        )
        return self.messages_to(chat_id)

    async def wait_for_replies(
        self,
        chat_id: int | str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Sent]:
        """Like ``wait_for_messages``, counting edits with editMessageText too (``replies_to``)."""
        await self._wait_until(
            lambda: len(self.replies_to(chat_id)) >= count,
            timeout,
            lambda: (
                f"expected {count} repl(ies) to chat {chat_id}, got "
                f"{[s.text for s in self.replies_to(chat_id)]}"
            ),
        )
        return self.replies_to(chat_id)

    def last_reply(self, chat_id: int | str) -> Sent | None:
        """The newest message sent or edited (``replies_to``); its ``message_id`` is the
        message a worker presses."""
        replies = self.replies_to(chat_id)
        return replies[-1] if replies else None

    async def wait_for_call(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until ``method`` was called (and answered) ``count`` times in all."""
        await self._wait_until(
            lambda: sum(c.status is not None for c in self.calls_of(method)) >= count,
            timeout,
            lambda: f"expected {count} {method} call(s), got {self.call_count(method)}",
        )
        return self.calls_of(method)

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until ``predicate()`` holds; it is checked after every request and update."""
        await self._wait_until(predicate, timeout, lambda: "condition not met")

    async def _wait_until(
        self, predicate: Callable[[], bool], seconds: float, describe: Callable[[], str]
    ) -> None:
        deadline = time.monotonic() + seconds
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {seconds} s: {describe()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    # ---------------------------------------------------------------- Bot API: helpers

    def _chat_id(self, p: Mapping[str, Any]) -> int | str:
        value = p.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value)
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if text.startswith("@"):
            return text
        raise _bad_request("chat not found")

    def _chat(self, chat_id: int | str) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is None:
            if self.strict_chats or isinstance(chat_id, str):
                raise _bad_request("chat not found")
            if chat_id > 0:  # type: ignore[operator]
                self.user(chat_id)  # type: ignore[arg-type]
                chat = self._chats[chat_id]
            else:
                chat = {"id": chat_id, "type": "group", "title": f"Group{chat_id}"}
                self._chats[chat_id] = chat
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return copy.deepcopy(chat)

    def _markup(self, p: Mapping[str, Any]) -> dict[str, Any] | None:
        markup = p.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad_request(
                    'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
                )
            if sum(len(row) for row in rows) > 100:
                raise _bad_request("reply markup is too long")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise _bad_request("can't parse inline keyboard button: Text is empty")
                    actions = [a for a in _BUTTON_ACTIONS if a in button]
                    if not actions:
                        raise _bad_request(
                            "can't parse inline keyboard button: Text buttons are unallowed in "
                            "the inline keyboard"
                        )
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                        raise _bad_request("BUTTON_DATA_INVALID")
            return markup
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad_request(
                    'field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays'
                )
            return markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise _bad_request('can\'t find field "inline_keyboard"')

    @staticmethod
    def _inline_only(markup: dict[str, Any] | None) -> dict[str, Any] | None:
        """Message.reply_markup echoes inline keyboards only."""
        if markup and "inline_keyboard" in markup and markup["inline_keyboard"]:
            return copy.deepcopy(markup)
        return None

    def _rendered(
        self, p: Mapping[str, Any], key: str, limit: int, *, required: bool
    ) -> tuple[str | None, list[dict[str, Any]] | None]:
        value = p.get(key)
        if value is None or value == "":
            if required:
                raise _bad_request("message text is empty")
            return None, None
        entities_key = "entities" if key == "text" else "caption_entities"
        text, entities = render_text(str(value), p.get("parse_mode"), p.get(entities_key))
        if required and not text.strip():
            raise _bad_request("message text is empty")
        if _u16(text) > limit:
            raise _bad_request(
                "message is too long" if key == "text" else "message caption is too long"
            )
        return text, entities or None

    def _reply_to(self, chat_id: int | str, p: Mapping[str, Any]) -> dict[str, Any] | None:
        target = p.get("reply_to_message_id")
        parameters = p.get("reply_parameters")
        if isinstance(parameters, dict):
            target = parameters.get("message_id", target)
        if target is None:
            return None
        replied = self._messages.get((chat_id, int(target)))
        if replied is None:
            if isinstance(parameters, dict) and parameters.get("allow_sending_without_reply"):
                return None
            raise _bad_request("message to be replied not found")
        return copy.deepcopy(replied)

    def _bot_sends(
        self,
        method: str,
        p: dict[str, Any],
        files: dict[str, UploadedFile],
        **content: Any,
    ) -> dict[str, Any]:
        chat_id = self._chat_id(p)
        chat = self._chat(chat_id)
        self._check_rate(chat_id, chat["type"])
        reply_to = self._reply_to(chat_id, p)
        markup = self._markup(p)
        message = self._message(
            chat,
            dict(self.bot_user),
            reply_to_message=reply_to,
            reply_markup=self._inline_only(markup),
            **content,
        )
        at = time.monotonic()
        self._send_times[chat_id].append((at, True))
        self._recent_ok.append(at)
        self.sent.append(Sent(method, p, chat_id, at, files, copy.deepcopy(message)))
        return message

    def _upload(
        self, p: dict[str, Any], files: dict[str, UploadedFile], key: str
    ) -> tuple[UploadedFile | None, str | None]:
        """A file parameter: an uploaded part, attach://name, or a file_id/URL string."""
        value = p.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad_request(f"file {value} not found in the request")
            return upload, None
        if key in files:
            return files[key], None
        if value is None or value == "":
            raise _bad_request(f"there is no {key} in the request")
        return None, str(value)

    # ---------------------------------------------------------------- Bot API: methods

    @_api("getMe")
    async def _get_me(self, _: Any, __: Any) -> dict[str, Any]:
        return dict(self.bot_user)

    @_api("logOut")
    async def _log_out(self, _: Any, __: Any) -> bool:
        self.logged_out = True
        return True

    @_api("close")
    async def _close(self, _: Any, __: Any) -> bool:
        self.closed = True
        return True

    @_api("sendMessage")
    async def _send_message(self, p: dict[str, Any], files: Any) -> dict[str, Any]:
        self._chat_id(p)
        text, entities = self._rendered(p, "text", MAX_TEXT, required=True)
        return self._bot_sends("sendMessage", p, {}, text=text, entities=entities)

    @_api("sendDocument")
    async def _send_document(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self._chat_id(p)
        upload, reference = self._upload(p, files, "document")
        caption, entities = self._rendered(p, "caption", MAX_CAPTION, required=False)
        if upload is not None:
            name = upload.filename or "document"
            extension = name.rsplit(".", 1)[-1] if "." in name else "bin"
            document = self._new_file(
                "BQAC",
                upload.content,
                {"file_name": name, "mime_type": upload.content_type or "application/octet-stream"},
                "documents",
                extension,
            )
        elif reference in self._files:
            document = dict(self._files[reference]["meta"])
        else:
            name = reference.rsplit("/", 1)[-1] or "document"  # type: ignore[union-attr]
            document = self._new_file("BQAC", b"", {"file_name": name}, "documents", "bin")
        return self._bot_sends(
            "sendDocument",
            p,
            {"document": upload} if upload else {},
            document=document,
            caption=caption,
            caption_entities=entities,
        )

    @_api("sendPhoto")
    async def _send_photo(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self._chat_id(p)
        upload, reference = self._upload(p, files, "photo")
        caption, entities = self._rendered(p, "caption", MAX_CAPTION, required=False)
        if upload is None and reference in self._files:
            sizes = [dict(self._files[reference]["meta"])]
        else:
            content = upload.content if upload else b""
            width, height = _png_size(content) or (1280, 960)
            longest = max(width, height, 1)
            scales = [side for side in (90, 320, 800) if side < longest] + [min(longest, 1280)]
            sizes = [
                self._new_file(
                    "AgAC",
                    content,
                    {
                        "width": round(width * side / longest),
                        "height": round(height * side / longest),
                    },
                    "photos",
                    "jpg",
                )
                for side in scales
            ]
        return self._bot_sends(
            "sendPhoto",
            p,
            {"photo": upload} if upload else {},
            photo=sizes,
            caption=caption,
            caption_entities=entities,
        )

    def _editable(self, p: Mapping[str, Any]) -> tuple[int | str, dict[str, Any]]:
        if p.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat_id = self._chat_id(p)
        if p.get("message_id") in (None, ""):
            raise _bad_request("message identifier is not specified")
        stored = self._messages.get((chat_id, int(p["message_id"])))
        if stored is None:
            raise _bad_request("message to edit not found")
        if not stored["from"].get("is_bot"):
            raise _bad_request("message can't be edited")
        return chat_id, stored

    def _record_edit(
        self, method: str, p: dict[str, Any], chat_id: int | str, stored: dict[str, Any]
    ) -> dict[str, Any]:
        stored["edit_date"] = int(self.clock())
        self.sent.append(Sent(method, p, chat_id, time.monotonic(), {}, copy.deepcopy(stored)))
        return copy.deepcopy(stored)

    @_api("editMessageText")
    async def _edit_message_text(self, p: dict[str, Any], _: Any) -> dict[str, Any]:
        chat_id, stored = self._editable(p)
        if "text" not in stored:
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._rendered(p, "text", MAX_TEXT, required=True)
        markup = self._inline_only(self._markup(p))  # no reply_markup: the keyboard goes
        if (text, entities, markup) == (
            stored.get("text"),
            stored.get("entities"),
            stored.get("reply_markup"),
        ):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        stored["text"] = text
        for key, value in (("entities", entities), ("reply_markup", markup)):
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = value
        return self._record_edit("editMessageText", p, chat_id, stored)

    @_api("editMessageReplyMarkup")
    async def _edit_message_reply_markup(self, p: dict[str, Any], _: Any) -> dict[str, Any]:
        chat_id, stored = self._editable(p)
        markup = self._inline_only(self._markup(p))
        if markup == stored.get("reply_markup"):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        if markup is None:
            stored.pop("reply_markup", None)
        else:
            stored["reply_markup"] = markup
        return self._record_edit("editMessageReplyMarkup", p, chat_id, stored)

    @_api("deleteMessage")
    async def _delete_message(self, p: dict[str, Any], _: Any) -> bool:
        chat_id = self._chat_id(p)
        key = (chat_id, int(p.get("message_id") or 0))
        if key not in self._messages:
            raise _bad_request("message to delete not found")
        del self._messages[key]
        self.sent.append(Sent("deleteMessage", p, chat_id, time.monotonic()))
        return True

    @_api("deleteMessages")
    async def _delete_messages(self, p: dict[str, Any], _: Any) -> bool:
        """Telegram's deleteMessages: 1 to 100 ids; ids not found, or too old to delete (48
        hours, by the stand-in's clock), are skipped; True."""
        chat_id = self._chat_id(p)
        ids = p.get("message_ids")
        if isinstance(ids, str):
            with contextlib.suppress(ValueError):
                ids = json.loads(ids)
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad_request("message identifiers are not specified")
        deleted = []
        for raw in ids:
            key = (chat_id, int(raw))
            message = self._messages.get(key)
            if message is None or message["date"] < self.clock() - DELETABLE_SECONDS:
                continue
            del self._messages[key]
            deleted.append(int(raw))
        self.sent.append(
            Sent("deleteMessages", {**p, "deleted": deleted}, chat_id, time.monotonic())
        )
        return True

    def chat_holds(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages still in a private chat (both sides, not deleted), oldest first."""
        return [copy.deepcopy(m) for (c, _), m in sorted(self._messages.items()) if c == chat_id]

    @_api("answerCallbackQuery")
    async def _answer_callback_query(self, p: dict[str, Any], _: Any) -> bool:
        entry = self._queries.get(str(p.get("callback_query_id") or ""))
        if entry is None or entry["answer"] is not None:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(p.get("text") or "")) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        entry["answer"] = dict(p)
        self.sent.append(Sent("answerCallbackQuery", p, entry["chat_id"], time.monotonic()))
        return True

    @_api("sendChatAction")
    async def _send_chat_action(self, p: dict[str, Any], _: Any) -> bool:
        chat_id = self._chat_id(p)
        self._chat(chat_id)
        if p.get("action") not in CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        self.sent.append(Sent("sendChatAction", p, chat_id, time.monotonic()))
        return True

    @_api("getFile")
    async def _get_file(self, p: dict[str, Any], _: Any) -> dict[str, Any]:
        stored = self._files.get(str(p.get("file_id") or ""))
        if stored is None:
            raise _bad_request("invalid file_id")
        meta = stored["meta"]
        return {
            "file_id": meta["file_id"],
            "file_unique_id": meta["file_unique_id"],
            "file_size": meta["file_size"],
            "file_path": stored["path"],
        }

    def file_content(self, file_id: str) -> bytes:
        return self._files[file_id]["content"]

    @staticmethod
    def _commands_key(p: Mapping[str, Any]) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad_request("can't parse BotCommandScope JSON object")
        language = str(p.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad_request("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    @_api("setMyCommands")
    async def _set_my_commands(self, p: dict[str, Any], _: Any) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand JSON object")
            if not _COMMAND.fullmatch(str(command.get("command", "")).removeprefix("/")):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("command description is empty")
        key = self._commands_key(p)
        if commands:
            self.commands[key] = [
                {"command": str(c["command"]).removeprefix("/"), "description": c["description"]}
                for c in commands
            ]
        else:
            self.commands.pop(key, None)
        return True

    @_api("getMyCommands")
    async def _get_my_commands(self, p: dict[str, Any], _: Any) -> list[dict[str, str]]:
        return copy.deepcopy(self.commands.get(self._commands_key(p), []))

    @_api("deleteMyCommands")
    async def _delete_my_commands(self, p: dict[str, Any], _: Any) -> bool:
        self.commands.pop(self._commands_key(p), None)
        return True

    def commands_for(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[tuple[str, str]]:
        """The (command, description) pairs set for a scope (default scope) and language."""
        key = self._commands_key(
            {"scope": dict(scope) if scope else None, "language_code": language_code}
        )
        return [(c["command"], c["description"]) for c in self.commands.get(key, [])]

    @_api("setChatMenuButton")
    async def _set_chat_menu_button(self, p: dict[str, Any], _: Any) -> bool:
        chat_id = self._chat_id(p) if p.get("chat_id") not in (None, "") else None
        button = p.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _bad_request("can't parse menu button JSON object")
        self.menu_buttons[chat_id] = button  # type: ignore[index]
        return True

    @_api("getChatMenuButton")
    async def _get_chat_menu_button(self, p: dict[str, Any], _: Any) -> dict[str, Any]:
        chat_id = self._chat_id(p) if p.get("chat_id") not in (None, "") else None
        button = self.menu_buttons.get(chat_id) or self.menu_buttons.get(None)  # type: ignore[arg-type]
        return copy.deepcopy(button or {"type": "commands"})
