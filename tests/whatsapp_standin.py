"""A stand-in for the WhatsApp Cloud API, for tests: a real HTTP server on 127.0.0.1 that our
channel sends messages to, and Meta's side of the webhook, which posts workers' messages to the
app under test, signed like Meta signs them.

    async with WhatsAppStandin(token=..., phone_number_id=..., app_secret=...) as api:
        settings.whatsapp_api_url = api.url            # http://127.0.0.1:PORT/v25.0
        api.webhook_url = f"{app_url}/whatsapp"
        worker = api.worker("Ayesha")                  # a phone number and a business-scoped id
        replies = await api.text(worker, "K7M4QP")     # what the bot sent back, in order
        replies = await api.press(worker, "a:language:ur")

What it does, like the Cloud API (developers.facebook.com/docs/whatsapp/cloud-api):

* ``POST /<version>/<phone-number-id>/messages`` with a Bearer token (401, code 190, for another
  token). Checks text, interactive reply-button and list messages against WhatsApp's limits
  (at most 3 buttons with titles of at most 20 characters and unique ids and titles; lists of
  at most 10 rows with titles of at most 24, descriptions of at most 72, a button text of at
  most 20; bodies of at most 1024 characters, text of at most 4096): 400 with code 131009
  otherwise. Templates must have been approved (``approve_template``), else 132001; their
  parameter count must match, else 132000.
* Answers ``{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id", "user_id"}],
  "messages": [{"id": "wamid..."}]}``. Message ids, like Meta's, encode the worker's number.
* The recipient is ``to`` (the phone number) or ``recipient`` (the business-scoped user id,
  "PK.…"); with both, ``to`` wins. A worker who hides the phone number has only the user id.
* The 24-hour rule: a text or interactive message to a worker whose last message is older than
  24 hours is accepted and then fails with 131047, as on WhatsApp; templates always go out.
* Faults on demand: ``fail_next(code, times, status)``, e.g. 130429 (throughput) and 131056
  (pair rate), or 131000 with HTTP 500; ``delay(seconds, times)`` answers late (the message is
  still sent, as WhatsApp sends a message whose answer the client stopped waiting for; those
  are listed in ``delayed``).

Meta's side:

* worker input (each returns the messages the bot sent while handling it): ``text``, ``press``
  (a reply button or a list row, by its id), ``media`` (audio, voice, image, sticker, video,
  document, location, contacts, reaction, unsupported), ``edit``, ``tap_template_button``;
  ``message(...)`` builds a delivery without sending it, ``deliver(payload)`` posts one.
* Deliveries are signed (``X-Hub-Signature-256``); a non-200 answer is retried after
  ``retry_delays`` like Meta retries (``settle()`` waits for the retries).
* ``statuses(sent, ...)`` posts status callbacks (sent, delivered, read, failed);
  ``verify(url, token)`` performs the GET handshake.
* A clock (``now``, ``advance``) dates the workers' messages: the 24-hour rule follows it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.telegram_standin import serve_asgi

__all__ = ["ApiError", "Delivery", "Sent", "Template", "WhatsAppStandin", "Worker"]

WINDOW_SECONDS = 24 * 3600
BODY_MAX, TEXT_MAX = 1024, 4096
BUTTONS_MAX, BUTTON_TITLE_MAX, BUTTON_ID_MAX = 3, 20, 256
ROWS_MAX, ROW_TITLE_MAX, ROW_ID_MAX, ROW_DESCRIPTION_MAX = 10, 24, 200, 72
LIST_BUTTON_MAX, SECTION_TITLE_MAX = 20, 24
MEDIA = {
    "audio": {"id": "1001", "mime_type": "audio/ogg; codecs=opus"},
    "voice": {"id": "1002", "mime_type": "audio/ogg; codecs=opus", "voice": True},
    "image": {"id": "1003", "mime_type": "image/jpeg", "sha256": "x" * 64},
    "sticker": {"id": "1004", "mime_type": "image/webp", "animated": False},
    "video": {"id": "1005", "mime_type": "video/mp4"},
    "document": {"id": "1006", "mime_type": "application/pdf", "filename": "payslip.pdf"},
    "location": {"latitude": 24.8607, "longitude": 67.0011, "name": "Korangi"},
    "contacts": [{"name": {"formatted_name": "Bilal"}, "phones": [{"phone": "+92 300 9876543"}]}],
}
PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")


class ApiError(Exception):
    """An error answer of the Graph API."""

    def __init__(self, code: int, message: str, status: int = 400, details: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details

    def response(self) -> Response:
        error: dict[str, Any] = {
            "message": self.message,
            "type": "OAuthException",
            "code": self.code,
            "fbtrace_id": secrets.token_urlsafe(12),
        }
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        return JSONResponse({"error": error}, status_code=self.status)


def _invalid(details: str) -> ApiError:
    return ApiError(131009, "(#131009) Parameter value is not valid", details=details)


@dataclass(eq=False)
class Worker:
    """A WhatsApp user writing to the business."""

    name: str
    phone: str | None  # wa_id; None when hidden behind a username
    user_id: str | None  # business-scoped user id
    username: str | None = None
    last_message_at: float | None = None  # stand-in clock

    def contact(self) -> dict[str, Any]:
        profile: dict[str, Any] = {"name": self.name}
        if self.username:
            profile["username"] = self.username
        out: dict[str, Any] = {"profile": profile}
        if self.phone:
            out["wa_id"] = self.phone
        if self.user_id:
            out["user_id"] = self.user_id
        return out


@dataclass(eq=False)
class Sent:
    """A message the business sent, as the stand-in took it."""

    worker: Worker
    id: str
    request: dict[str, Any]
    at: float
    error: int | None = None  # set when WhatsApp failed to deliver it (e.g. 131047)
    template_text: str = ""

    @property
    def type(self) -> str:
        """ "text", "button" (reply buttons), "list" or "template"."""
        kind = str(self.request["type"])
        return str(self.request["interactive"]["type"]) if kind == "interactive" else kind

    @property
    def delivered(self) -> bool:
        return self.error is None

    @property
    def text(self) -> str:
        if self.type == "text":
            return str(self.request["text"]["body"])
        if self.type == "template":
            return self.template_text
        return str(self.request["interactive"]["body"]["text"])

    @property
    def options(self) -> list[tuple[str, str]]:
        """(title, id) of the reply buttons or list rows, in order."""
        if self.type == "button":
            return [
                (b["reply"]["title"], b["reply"]["id"])
                for b in self.request["interactive"]["action"]["buttons"]
            ]
        if self.type == "list":
            return [
                (r["title"], r["id"])
                for s in self.request["interactive"]["action"]["sections"]
                for r in s["rows"]
            ]
        return []

    @property
    def titles(self) -> list[str]:
        return [t for t, _ in self.options]

    @property
    def list_button(self) -> str | None:
        return str(self.request["interactive"]["action"]["button"]) if self.type == "list" else None

    def __repr__(self) -> str:
        return f"Sent({self.type}, {self.text[:40]!r}, {self.titles})"


@dataclass(frozen=True)
class Template:
    """An approved message template."""

    name: str
    language: str
    body: str  # with {{1}}, {{2}} ...
    quick_replies: tuple[str, ...] = ()


@dataclass
class Delivery:
    """One POST of a webhook delivery to the app."""

    payload: dict[str, Any]
    status: int
    attempt: int


@dataclass
class _Fault:
    code: int
    times: int
    status: int
    message: str


@dataclass
class WhatsAppStandin:
    """The Cloud API and Meta's webhook sender, for one business number."""

    token: str
    phone_number_id: str
    app_secret: str
    version: str = "v25.0"
    waba_id: str = "102030405060708"
    display_number: str = "922130001111"
    retry_delays: Sequence[float] = (0.3, 0.6, 1.2)
    webhook_url: str | None = None
    sent: list[Sent] = field(default_factory=list)
    calls: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    templates: dict[tuple[str, str], Template] = field(default_factory=dict)
    clock_offset: float = 0.0
    root: str = ""
    _workers: list[Worker] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _delays: list[list[float]] = field(default_factory=list)  # [seconds, times left]
    delayed: list[Sent] = field(default_factory=list)
    _retries: set[asyncio.Task[None]] = field(default_factory=set)
    _numbers: Any = field(default_factory=lambda: itertools.count(4_561_001))
    _stack: Any = None
    _client: httpx.AsyncClient | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """The Graph API root to configure (WAGECHECK_WHATSAPP_API_URL)."""
        return f"{self.root}/{self.version}"

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/{version}/{phone_id}/messages", self._messages, methods=["POST"])]
        )

    async def __aenter__(self) -> WhatsAppStandin:
        self._stack = serve_asgi(self.app())
        self.root = await self._stack.__aenter__()
        self._client = httpx.AsyncClient(timeout=30)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in list(self._retries):
            task.cancel()
        await asyncio.gather(*self._retries, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        await self._stack.__aexit__(*exc_info)

    # ------------------------------------------------------------------ set-up
    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        self.clock_offset += seconds

    def worker(
        self,
        name: str = "Worker",
        *,
        phone: str | None = None,
        user_id: str | None = None,
        hide_phone: bool = False,
        with_user_id: bool = True,
    ) -> Worker:
        """A new WhatsApp user: a Pakistani mobile number and a business-scoped user id."""
        n = next(self._numbers)
        w = Worker(
            name=name,
            phone=None if hide_phone else (phone or f"9230{n:08d}"),
            user_id=(user_id or f"PK.{secrets.randbelow(10**19) + 10**19}")
            if with_user_id
            else None,
            username=f"@{name.lower()}{n}" if hide_phone else None,
        )
        self._workers.append(w)
        return w

    def approve_template(
        self, name: str, language: str, body: str, quick_replies: Sequence[str] = ()
    ) -> Template:
        template = Template(name, language, body, tuple(quick_replies))
        self.templates[(name, language)] = template
        return template

    def fail_next(
        self, code: int = 130429, times: int = 1, status: int = 400, message: str = ""
    ) -> None:
        """The next `times` message requests fail with this Graph API error."""
        self._faults.append(_Fault(code, times, status, message or f"(#{code}) error"))

    def delay(self, seconds: float, times: int = 1) -> None:
        """The next `times` message requests are answered only after `seconds`."""
        self._delays.append([seconds, times])

    # ------------------------------------------------------------------ what was sent
    def messages_to(self, worker: Worker) -> list[Sent]:
        return [s for s in self.sent if s.worker is worker]

    def last(self, worker: Worker) -> Sent:
        return self.messages_to(worker)[-1]

    def last_with_options(self, worker: Worker) -> Sent:
        return next(s for s in reversed(self.messages_to(worker)) if s.options)

    # ------------------------------------------------------------------ the Graph API
    async def _messages(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        try:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                raise ApiError(190, "Invalid OAuth access token.", status=401)
            if request.path_params["version"] != self.version:
                raise ApiError(2500, "Unknown path components", status=400)
            if request.path_params["phone_id"] != self.phone_number_id:
                raise ApiError(100, "(#100) Unsupported post request.", status=400)
            late = await self._delay()
            self._fault()
            result = self._send(body)
            if late:
                self.delayed.append(self.sent[-1])
        except ApiError as exc:
            self.calls.append((exc.status, body))
            return exc.response()
        self.calls.append((200, body))
        return JSONResponse(result)

    async def _delay(self) -> bool:
        if not self._delays:
            return False
        rule = self._delays[0]
        rule[1] -= 1
        if rule[1] <= 0:
            self._delays.pop(0)
        await asyncio.sleep(rule[0])
        return True

    def _fault(self) -> None:
        if self._faults:
            fault = self._faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self._faults.pop(0)
            raise ApiError(fault.code, fault.message, fault.status)

    def _recipient(self, body: dict[str, Any]) -> tuple[Worker | None, str]:
        to, recipient = body.get("to"), body.get("recipient")
        if not to and not recipient:
            raise ApiError(100, "(#100) The parameter to is required.")
        if to:
            digits = re.sub(r"[^0-9]", "", str(to))
            return next((w for w in self._workers if w.phone == digits), None), str(to)
        return next((w for w in self._workers if w.user_id == recipient), None), str(recipient)

    def _send(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("messaging_product") != "whatsapp":
            raise ApiError(100, "(#100) Invalid parameter", details="messaging_product")
        if body.get("recipient_type", "individual") != "individual":
            raise ApiError(100, "(#100) Invalid parameter", details="recipient_type")
        worker, given = self._recipient(body)
        kind = body.get("type", "text")
        template_text = ""
        if kind == "text":
            _check_text(body.get("text"))
        elif kind == "interactive":
            _check_interactive(body.get("interactive"))
        elif kind == "template":
            template_text = self._check_template(body.get("template"))
        else:
            raise ApiError(100, "(#100) Invalid parameter", details=f"type {kind!r}")
        now = self.now()
        if worker is None:
            # WhatsApp takes the request and fails it later: the number has no account.
            ghost = Worker("unknown", given if given.isdigit() else None, None)
            self.sent.append(Sent(ghost, _wamid(given), body, now, error=131026))
            return self._accepted(given, ghost)
        sent = Sent(worker, _wamid(worker.phone or worker.user_id or ""), body, now)
        sent.template_text = template_text
        if kind != "template" and (
            worker.last_message_at is None or now - worker.last_message_at > WINDOW_SECONDS
        ):
            sent.error = (
                131047  # "Re-engagement message": more than 24 hours since the worker wrote
            )
        self.sent.append(sent)
        return self._accepted(given, worker, sent.id)

    @staticmethod
    def _accepted(given: str, worker: Worker, wamid: str | None = None) -> dict[str, Any]:
        contact: dict[str, Any] = {"input": given}
        if worker.phone:
            contact["wa_id"] = worker.phone
        if worker.user_id:
            contact["user_id"] = worker.user_id
        return {
            "messaging_product": "whatsapp",
            "contacts": [contact],
            "messages": [{"id": wamid or _wamid(given), "message_status": "accepted"}],
        }

    def _check_template(self, template: Any) -> str:
        if not isinstance(template, dict) or not template.get("name"):
            raise ApiError(100, "(#100) Invalid parameter", details="template.name")
        language = (template.get("language") or {}).get("code")
        approved = self.templates.get((template["name"], language))
        if approved is None:
            raise ApiError(
                132001,
                "(#132001) Template name does not exist in the translation",
                status=404,
                details=f"template name ({template['name']}) does not exist in {language}",
            )
        body_params: list[str] = []
        for component in template.get("components") or []:
            if component.get("type") == "body":
                body_params = [p.get("text", "") for p in component.get("parameters") or []]
            elif component.get("type") == "button":
                index = int(component.get("index", -1))
                if component.get("sub_type") != "quick_reply" or not (
                    0 <= index < len(approved.quick_replies)
                ):
                    raise ApiError(132000, "(#132000) Number of parameters does not match")
        needed = len(set(PLACEHOLDER.findall(approved.body)))
        if len(body_params) != needed:
            raise ApiError(
                132000,
                "(#132000) Number of parameters does not match the expected number of params",
                details=f"body: number of localizable_params ({len(body_params)}) does not "
                f"match the expected number of params ({needed})",
            )
        return PLACEHOLDER.sub(lambda m: body_params[int(m.group(1)) - 1], approved.body)

    # ------------------------------------------------------------------ Meta's webhook side
    def _envelope(self, value: dict[str, Any]) -> dict[str, Any]:
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": self.display_number,
                "phone_number_id": self.phone_number_id,
            },
            **value,
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"value": value, "field": "messages"}]}],
        }

    def message(
        self, worker: Worker, kind: str, content: Any, *, context: str | None = None
    ) -> dict[str, Any]:
        """A delivery carrying one message from `worker` (not sent yet); opens the 24 hours."""
        now = self.now()
        worker.last_message_at = now
        message: dict[str, Any] = {
            "id": _wamid(worker.phone or worker.user_id or "", incoming=True),
            "timestamp": str(int(now)),
            "type": kind,
        }
        if worker.phone:
            message["from"] = worker.phone
        if worker.user_id:
            message["from_user_id"] = worker.user_id
        if context is not None:
            message["context"] = {"from": self.display_number, "id": context}
        if content is not None:
            message[kind] = content
        return self._envelope({"contacts": [worker.contact()], "messages": [message]})

    def sign(self, body: bytes, secret: str | None = None) -> str:
        key = (secret if secret is not None else self.app_secret).encode()
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    async def deliver(
        self,
        payload: dict[str, Any],
        *,
        secret: str | None = None,
        signature: str | None = None,
        retry: bool = True,
        url: str | None = None,
    ) -> httpx.Response:
        """POST a delivery to the webhook, signed (with `secret`, or a given `signature`);
        a non-200 answer is retried in the background after `retry_delays`."""
        assert self._client is not None
        target = url or self.webhook_url
        assert target, "set webhook_url first"
        # Meta escapes non-ASCII characters; the signature covers exactly these bytes.
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        header = signature if signature is not None else self.sign(body, secret)
        if header:
            headers["X-Hub-Signature-256"] = header
        response = await self._client.post(target, content=body, headers=headers)
        self.deliveries.append(Delivery(payload, response.status_code, 1))
        if response.status_code != 200 and retry and signature is None and secret is None:
            task = asyncio.create_task(self._redeliver(target, body, headers, payload))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
        return response

    async def _redeliver(
        self, target: str, body: bytes, headers: dict[str, str], payload: dict[str, Any]
    ) -> None:
        assert self._client is not None
        for attempt, delay in enumerate(self.retry_delays, start=2):
            await asyncio.sleep(delay)
            try:
                response = await self._client.post(target, content=body, headers=headers)
            except httpx.HTTPError:
                continue
            self.deliveries.append(Delivery(payload, response.status_code, attempt))
            if response.status_code == 200:
                return

    async def settle(self) -> None:
        """Wait until every webhook retry has ended."""
        if self._retries:
            async with asyncio.timeout(10):
                await asyncio.gather(*self._retries, return_exceptions=True)

    async def _send_in(self, worker: Worker, payload: dict[str, Any]) -> list[Sent]:
        before = len(self.messages_to(worker))
        await self.deliver(payload)
        return self.messages_to(worker)[before:]

    async def text(self, worker: Worker, body: str) -> list[Sent]:
        return await self._send_in(worker, self.message(worker, "text", {"body": body}))

    def press_payload(
        self, worker: Worker, option_id: str, *, strict: bool = True
    ) -> dict[str, Any]:
        """The delivery for pressing the reply button or list row `option_id` of the newest
        message to `worker` that has it (any message if not `strict`)."""
        for sent in reversed(self.messages_to(worker)):
            for title, oid in sent.options:
                if oid == option_id:
                    reply_type = "button_reply" if sent.type == "button" else "list_reply"
                    content = {"type": reply_type, reply_type: {"id": oid, "title": title}}
                    return self.message(worker, "interactive", content, context=sent.id)
        if strict:
            raise AssertionError(f"no button or row {option_id!r} was sent to {worker.name}")
        content = {"type": "button_reply", "button_reply": {"id": option_id, "title": "?"}}
        return self.message(worker, "interactive", content)

    async def press(self, worker: Worker, option_id: str, *, strict: bool = True) -> list[Sent]:
        return await self._send_in(worker, self.press_payload(worker, option_id, strict=strict))

    async def tap_template_button(self, worker: Worker, index: int = 0) -> list[Sent]:
        """Tap a quick-reply button of the newest template sent to `worker`."""
        sent = next(s for s in reversed(self.messages_to(worker)) if s.type == "template")
        template = sent.request["template"]
        approved = self.templates[(template["name"], template["language"]["code"])]
        payload = next(
            p["payload"]
            for c in template.get("components") or []
            if c.get("type") == "button" and int(c["index"]) == index
            for p in c["parameters"]
        )
        content = {"payload": payload, "text": approved.quick_replies[index]}
        return await self._send_in(worker, self.message(worker, "button", content, context=sent.id))

    async def media(self, worker: Worker, kind: str) -> list[Sent]:
        """Voice, audio, image, sticker, video, document, location, contacts, reaction or an
        unsupported message."""
        if kind == "voice":
            payload = self.message(worker, "audio", MEDIA["voice"])
        elif kind == "reaction":
            target = self.last(worker).id if self.messages_to(worker) else "wamid.x"
            payload = self.message(worker, "reaction", {"message_id": target, "emoji": "👍"})
        elif kind == "unsupported":
            payload = self.message(worker, "unsupported", None)
            payload["entry"][0]["changes"][0]["value"]["messages"][0]["errors"] = [
                {"code": 131051, "title": "Message type unknown"}
            ]
        else:
            payload = self.message(worker, kind, MEDIA[kind])
        return await self._send_in(worker, payload)

    async def edit(self, worker: Worker, original_id: str, body: str) -> list[Sent]:
        content = {
            "original_message_id": original_id,
            "message": {"type": "text", "text": {"body": body}},
        }
        return await self._send_in(worker, self.message(worker, "edit", content))

    def status_payload(
        self, sent: Sent, status: str, *, error: int | None = None
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": sent.id,
            "status": status,
            "timestamp": str(int(self.now())),
        }
        if sent.worker.phone:
            entry["recipient_id"] = sent.worker.phone
        if sent.worker.user_id:
            entry["recipient_user_id"] = sent.worker.user_id
        if status != "failed":
            entry["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "service"}}
            entry["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service"}
        if error is not None:
            entry["errors"] = [
                {
                    "code": error,
                    "title": "Re-engagement message" if error == 131047 else "Failure",
                    "message": "Re-engagement message",
                    "error_data": {
                        "details": "Message failed to send because more than 24 "
                        "hours have passed since the customer last replied."
                    },
                }
            ]
        return self._envelope({"contacts": [sent.worker.contact()], "statuses": [entry]})

    async def statuses(
        self, sent: Sent, states: Sequence[str] = ("sent", "delivered", "read")
    ) -> list[httpx.Response]:
        """Post status callbacks for a sent message; "failed" carries the message's error."""
        out = []
        for state in states:
            error = (sent.error or 131026) if state == "failed" else None
            out.append(await self.deliver(self.status_payload(sent, state, error=error)))
        return out

    async def verify(
        self, url: str | None = None, token: str = "", mode: str = "subscribe"
    ) -> tuple[httpx.Response, str]:
        """Meta's verification GET; returns the answer and the challenge it sent."""
        assert self._client is not None
        challenge = str(secrets.randbelow(10**9))
        response = await self._client.get(
            url or self.webhook_url or "",
            params={"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge},
        )
        return response, challenge


# ---------------------------------------------------------------------- message checks
def _check_text(text: Any) -> None:
    body = text.get("body") if isinstance(text, dict) else None
    if not isinstance(body, str) or not body.strip():
        raise ApiError(100, "(#100) The parameter text['body'] is required.")
    if len(body) > TEXT_MAX:
        raise _invalid(f"text body has {len(body)} characters, at most {TEXT_MAX}")


def _check_interactive(interactive: Any) -> None:
    if not isinstance(interactive, dict):
        raise ApiError(100, "(#100) The parameter interactive is required.")
    body = (interactive.get("body") or {}).get("text")
    if not isinstance(body, str) or not body.strip():
        raise _invalid("body.text is required")
    if len(body) > BODY_MAX:
        raise _invalid(f"body.text has {len(body)} characters, at most {BODY_MAX}")
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= BUTTONS_MAX:
            raise _invalid(f"{len(buttons)} buttons, 1 to {BUTTONS_MAX} allowed")
        ids, titles = [], []
        for b in buttons:
            reply = b.get("reply") or {}
            if b.get("type") != "reply" or not reply.get("id") or not reply.get("title"):
                raise _invalid("a button needs type reply, an id and a title")
            if len(reply["title"]) > BUTTON_TITLE_MAX:
                raise _invalid(f"button title {reply['title']!r} over {BUTTON_TITLE_MAX}")
            if len(reply["id"]) > BUTTON_ID_MAX:
                raise _invalid(f"button id over {BUTTON_ID_MAX}")
            ids.append(reply["id"])
            titles.append(reply["title"])
        if len(set(ids)) != len(ids) or len(set(titles)) != len(titles):
            raise _invalid("button ids and titles must be unique")
    elif interactive.get("type") == "list":
        button = action.get("button")
        if not isinstance(button, str) or not button or len(button) > LIST_BUTTON_MAX:
            raise _invalid(f"action.button must have 1 to {LIST_BUTTON_MAX} characters")
        sections = action.get("sections") or []
        if not 1 <= len(sections) <= ROWS_MAX:
            raise _invalid("1 to 10 sections")
        rows = [r for s in sections for r in s.get("rows") or []]
        if not 1 <= len(rows) <= ROWS_MAX:
            raise _invalid(f"{len(rows)} rows, 1 to {ROWS_MAX} allowed")
        for s in sections:
            title = s.get("title")
            if (len(sections) > 1 and not title) or len(title or "") > SECTION_TITLE_MAX:
                raise _invalid("a section title is required (several sections), at most 24")
        for r in rows:
            if not r.get("id") or not r.get("title"):
                raise _invalid("a row needs an id and a title")
            if len(r["title"]) > ROW_TITLE_MAX:
                raise _invalid(f"row title {r['title']!r} over {ROW_TITLE_MAX}")
            if len(r["id"]) > ROW_ID_MAX:
                raise _invalid(f"row id over {ROW_ID_MAX}")
            if len(r.get("description") or "") > ROW_DESCRIPTION_MAX:
                raise _invalid(f"row description over {ROW_DESCRIPTION_MAX}")
        if len({r["id"] for r in rows}) != len(rows):
            raise _invalid("row ids must be unique")
    else:
        raise ApiError(100, "(#100) Invalid parameter", details="interactive.type")


def _wamid(address: str, incoming: bool = False) -> str:
    """A message id shaped like Meta's: base64 of a small record that holds the number."""
    digits = re.sub(r"[^0-9A-Za-z.]", "", address).encode()
    raw = b"\x1c\x18" + bytes([len(digits)]) + digits + b"\x15\x02\x00\x12\x18"
    raw += (b"\x20" if incoming else b"\x12") + secrets.token_hex(10).upper().encode()
    return "wamid." + base64.b64encode(raw).decode()
