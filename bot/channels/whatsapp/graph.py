"""Sending through the WhatsApp Cloud API: POST <api>/<phone-number-id>/messages.

We call the Graph API with httpx rather than through pywa's client. pywa 4.x would be a thin
layer over this one request, and three of its habits work against us: it sets the base URL to
graph.facebook.com itself (a self-hosted proxy or the test stand-in needs a transport trick),
it decides from the shape of the recipient string whether it is a phone number, a
business-scoped user id or a group (we know which it is from the webhook), and it logs request
bodies, recipients included, at DEBUG level. Our own code never logs a recipient.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from bot import metrics
from bot.channels.whatsapp.ratelimit import SendLimits

log = logging.getLogger(__name__)

# Limits Meta answers with an error; waiting helps. Code -> first wait in seconds (doubled
# after each further refusal): the throughput resets within a second, a worker's pair rate
# allows one message about every 6 seconds.
RETRY_AFTER = {130429: 1.0, 131056: 6.0}
THROUGHPUT_LIMIT, PAIR_LIMIT = 130429, 131056
# Errors where the same request can succeed later (Graph API error codes, "Cloud API error
# codes" in Meta's documentation): temporary service faults and rate limits.
TRANSIENT_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131056, 131057, 133004})
# The request was malformed: an interactive message the API refused can still go out as text.
INVALID_PARAMETER_CODES = frozenset({100, 131008, 131009})
# Webhook deliveries wait while we send; past this much waiting in one request, give up and
# let the webhook fail so Meta delivers it again later (the outbox keeps the replies).
MAX_WAIT_SECONDS = 20.0
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class GraphError(Exception):
    """The Graph API refused a message. Carries the error code, never the recipient."""

    def __init__(self, code: int | None, status: int, *, transient: bool) -> None:
        super().__init__(f"WhatsApp Cloud API error {code} (HTTP {status})")
        self.code, self.status, self.transient = code, status, transient

    @property
    def invalid_parameter(self) -> bool:
        return self.code in INVALID_PARAMETER_CODES


@dataclass(frozen=True)
class Recipient:
    """Whom to send to: the phone number (`to`), the business-scoped user id (`recipient`), or
    both; with both, Meta uses the phone number."""

    phone: str | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        if not (self.phone or self.user_id):
            raise ValueError("a recipient needs a phone number or a user id")

    def __repr__(self) -> str:
        return "Recipient(…)"  # never shown: a recipient must not reach a log line by accident

    @classmethod
    def from_address(cls, address: str) -> Recipient:
        """The recipient for a stored worker id: business-scoped user ids ("PK.…") contain a
        dot, WhatsApp phone ids are digits."""
        return cls(user_id=address) if "." in address else cls(phone=address)

    @property
    def key(self) -> str:
        """One key per worker for the pair rate."""
        return self.user_id or self.phone or ""

    def fields(self) -> dict[str, str]:
        out = {}
        if self.phone:
            out["to"] = self.phone
        if self.user_id:
            out["recipient"] = self.user_id
        return out


class GraphClient:
    """Sends messages from one business number, within its rate limits."""

    def __init__(
        self,
        api_url: str,
        phone_number_id: str,
        token: str,
        *,
        per_second: float = 80,
        per_recipient_per_second: float = 0.16,
        max_retries: int = 5,
        retry_scale: float = 1.0,
        max_wait: float = MAX_WAIT_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.messages_url = f"{api_url.rstrip('/')}/{phone_number_id}/messages"
        self.limits = SendLimits(per_second, per_recipient_per_second)
        self.max_retries, self.retry_scale, self.max_wait = max_retries, retry_scale, max_wait
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"}, timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, to: Recipient, message: dict[str, Any]) -> str:
        """Send one message (its `type` and content); returns the message id ("wamid.…").

        Rate-limit refusals are waited out and tried again; anything else raises GraphError.
        """
        body = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        body |= to.fields() | message
        waited = 0.0
        attempt = 0
        while True:
            await self.limits.acquire(to.key)
            try:
                response = await self._http.post(self.messages_url, json=body)
            except httpx.HTTPError as exc:
                log.warning("WhatsApp Cloud API unreachable (%s)", type(exc).__name__)
                raise GraphError(None, 0, transient=True) from None
            if response.status_code < 400:
                return str(response.json()["messages"][0]["id"])
            error = _error(response)
            first_wait = RETRY_AFTER.get(error.code or 0)
            if first_wait is not None:
                metrics.RATE_LIMITED.labels("whatsapp").inc()
            wait = (first_wait or 0) * (2**attempt) * self.retry_scale
            if first_wait is None or attempt >= self.max_retries or waited + wait > self.max_wait:
                raise error
            log.warning("WhatsApp rate limit (error %s); sending again in %.1f s", error.code, wait)
            if error.code == THROUGHPUT_LIMIT:
                self.limits.overall.hold(wait)  # the whole number is over its limit
            else:
                self.limits.recipient(to.key).hold(wait)
            waited += wait
            attempt += 1


def _error(response: httpx.Response) -> GraphError:
    """The GraphError for an error answer: {"error": {"code": ..., "is_transient": ...}}."""
    try:
        data = response.json()["error"]
        code: int | None = int(data["code"])
        flagged = bool(data.get("is_transient", False))
    except (ValueError, KeyError, TypeError):
        code, flagged = None, False
    transient = flagged or response.status_code >= 500 or code in TRANSIENT_CODES
    return GraphError(code, response.status_code, transient=transient)
