"""Staff memberships (single-use invites, roles, revocation) and the reply outbox, on real
databases."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from bot.bootstrap import App
from bot.service import InboundMessage
from bot.service.admin import AdminError
from bot.service.members import MemberService
from bot.storage.models import AuditEntry, Invite, Member, OutboxMessage
from bot.survey.state import Reply
from tests.test_service import open_round


@pytest.fixture
def members(app: App) -> MemberService:
    return app.members


async def test_an_invite_links_an_account_once(app: App, members: MemberService) -> None:
    await app.admin.add_org("Karachi CSO", "cso")
    code, _ = await members.create_invite("Karachi CSO", "admin")
    assert code.startswith("join_") and len(code) == 17
    joined = await members.join("telegram", "555001", code)
    assert joined is not None and joined.role == "admin" and joined.is_cso_admin
    assert await members.join("telegram", "555002", code) is None  # used
    assert [m.org_name for m in await members.memberships("telegram", "555001")] == ["Karachi CSO"]
    assert await members.memberships("telegram", "555002") == []


async def test_an_expired_or_unknown_invite_is_refused(app: App, members: MemberService) -> None:
    await app.admin.add_org("Brand A", "brand")
    code, _ = await members.create_invite("Brand A", "viewer", days=7)
    later = app.clock() + timedelta(days=8)
    assert await members.join("telegram", "1", code, now=later) is None
    assert await members.join("telegram", "1", "join_NOTAREALCODE") is None
    assert await members.join("telegram", "1", code) is not None
    with pytest.raises(AdminError, match="role"):
        await members.create_invite("Brand A", "owner")
    with pytest.raises(AdminError, match="no organisation"):
        await members.create_invite("Nobody", "viewer")


async def test_only_hashes_of_codes_and_accounts_are_stored(
    app: App, members: MemberService
) -> None:
    await app.admin.add_org("Brand A", "brand")
    code, _ = await members.create_invite("Brand A", "viewer")
    await members.join("telegram", "987654321", code)
    async with app.db.transaction() as s:
        invite = (await s.execute(select(Invite))).scalar_one()
        member = (await s.execute(select(Member))).scalar_one()
    assert code not in invite.code_hash and len(invite.code_hash) == 64
    assert "987654321" not in member.account
    assert app.keyring.decrypt_address("telegram", member.address) == "987654321"


async def test_a_revoked_member_loses_access_and_it_is_audited(
    app: App, members: MemberService
) -> None:
    await app.admin.add_org("Karachi CSO", "cso")
    code, _ = await members.create_invite("Karachi CSO", "viewer")
    joined = await members.join("telegram", "42", code)
    assert joined is not None
    await members.revoke("Karachi CSO", joined.member_id)
    assert await members.memberships("telegram", "42") == []
    async with app.db.transaction() as s:
        actions = list((await s.execute(select(AuditEntry.action))).scalars())
    assert {"invite.create", "member.join", "member.revoke"} <= set(actions)


async def test_replies_wait_in_the_outbox_until_the_platform_took_them(app: App) -> None:
    codes = await open_round(app)
    msg = InboundMessage(
        channel="telegram",
        user_id="777",
        message_id="9001",
        kind="start",
        received_at=app.clock(),
        start_code=codes["KHI-001"],
        outbox=True,
    )
    first = await app.service.handle(msg)
    assert first.outbox_ids and not first.duplicate
    # The process died before sending: the redelivery gets the same replies, changes nothing.
    again = await app.service.handle(msg)
    assert again.duplicate and again.outbox_ids == first.outbox_ids
    assert [r.text for r in again.replies] == [r.text for r in first.replies]
    assert [r.buttons for r in again.replies] == [r.buttons for r in first.replies]
    # Refused for sure (say, connection refused) after all but the last went out: the sent
    # ones leave the outbox, and the redelivery sends only the last.
    sent: list[str] = []

    async def refuse_the_last(reply: Reply) -> bool:
        if len(sent) == len(first.replies) - 1:
            raise httpx.ConnectError("refused")
        sent.append(reply.text)
        return True

    with pytest.raises(httpx.ConnectError):
        await app.service.outbox.send_replies(again, again.replies, refuse_the_last)
    rest = await app.service.handle(msg)
    assert rest.replies and [r.text for r in rest.replies] == [first.replies[-1].text]
    # A send in doubt (the answer was lost: it may have arrived) is not repeated.

    async def lost_answer(reply: Reply) -> bool:
        raise httpx.ReadTimeout("no answer")

    with pytest.raises(httpx.ReadTimeout):
        await app.service.outbox.send_replies(rest, rest.replies, lost_answer)
    third = await app.service.handle(msg)
    assert third.duplicate and third.replies == []
    async with app.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_channels_without_an_outbox_write_none(app: App) -> None:
    codes = await open_round(app)
    msg = InboundMessage(
        channel="terminal",
        user_id="1",
        message_id="1",
        kind="start",
        received_at=app.clock(),
        start_code=codes["KHI-001"],
    )
    outcome = await app.service.handle(msg)
    assert outcome.replies and outcome.outbox_ids == []
