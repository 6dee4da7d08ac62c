"""What a stored status, kind or role may be: one StrEnum each, shared by the tables (which
check them: CHECK constraints, migration 0009), the round lifecycle, the services and the
portal. A StrEnum member is its string ("open" == RoundStatus.OPEN), so templates, JSON and
logs show the plain value."""

from __future__ import annotations

from enum import StrEnum


class OrgKind(StrEnum):
    CSO = "cso"  # runs rounds
    BRAND = "brand"  # receives results for the factories it sources from


class Role(StrEnum):
    """A person's role in their organisation, in the bot and in the portal."""

    ADMIN = "admin"
    VIEWER = "viewer"


class RoundStatus(StrEnum):
    """draft → scheduled → open → closed → published; see bot/service/lifecycle.py."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class ResponseStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"


class ContactPurpose(StrEnum):
    ACTIVE = "active"  # to remind a worker of the open round they started
    OPT_IN = "opt_in"  # to invite a worker who asked to hear about the next round


class BroadcastKind(StrEnum):
    REMINDER = "reminder"
    INVITATION = "invitation"
    STATUS = "status"
    REPORT = "report"


class BroadcastStatus(StrEnum):
    """pending → sending (claimed by one sender) → sent | blocked | skipped | failed |
    in_doubt (handed to the channel, outcome unknown: never sent again to a worker)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"
