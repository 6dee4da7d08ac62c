"""Keys derived from the instance secret, and what they are used for.

One secret, several purposes: HKDF gives each purpose its own key, so a leaked pseudonym key
does not decrypt addresses and the other way round.

An instance may hold several secrets, numbered versions (`wagecheck keys rotate` adds one;
docs/privacy.md "Keys"). The newest is current: new conversation pseudonyms, new rounds'
respondent pseudonyms and every stored contact address use it. A round keeps the version it
was created under (`use_from_round`), so its respondents keep one pseudonym each. Message
de-duplication keys stay on the first version: they hold message ids only, live a week, and a
change would let a message redelivered across a rotation be handled twice.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
MIN_SECRET_BYTES = 32
# A versioned line of a key file; a line without this prefix is version 1.
VERSION_LINE = re.compile(r"^wagecheck-key-v(\d+):(.+)$")
FINGERPRINT_MESSAGE = b"wagecheck key fingerprint"


class AddressDecryptionError(ValueError):
    """A stored address could not be decrypted (wrong key or tampered data)."""


class KeyFileError(ValueError):
    """A key file or WAGECHECK_SECRET_KEY value that cannot be read as a keyring."""


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"wagecheck/v1", info=purpose.encode()
    ).derive(secret)


def parse_secrets(text: str) -> dict[int, bytes]:
    """The secrets of a key file (or of WAGECHECK_SECRET_KEY) by version.

    One line without prefix is version 1 (every key file written before rotation existed);
    further versions are lines `wagecheck-key-v<N>:<secret>`. Blank lines are ignored."""
    found: dict[int, bytes] = {}
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        match = VERSION_LINE.match(line)
        version, secret = (int(match[1]), match[2]) if match else (1, line)
        if version < 1 or version in found:
            raise KeyFileError(f"key version {version} appears twice or is not a number >= 1")
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise KeyFileError(f"key version {version} is shorter than 32 characters")
        found[version] = secret.encode()
    if 1 not in found:
        raise KeyFileError("no key (version 1) in it")
    return found


def format_secrets(secrets: Mapping[int, bytes]) -> str:
    """A key file's text: version 1 bare (as always), the others with their prefix."""
    lines = []
    for version in sorted(secrets):
        secret = secrets[version].decode()
        lines.append(secret if version == 1 else f"wagecheck-key-v{version}:{secret}")
    return "\n".join(lines) + "\n"


def fingerprint(secret: bytes) -> str:
    """A fingerprint of one secret, stored in the database to recognise the key: an HMAC of a
    constant under a subkey of its own, so it tells nothing about the secret or the others."""
    return hmac.new(_derive(secret, "fingerprint"), FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()


class _Version:
    def __init__(self, secret: bytes) -> None:
        self.pseudonym_key = _derive(secret, "pseudonym")
        self.dedup_key = _derive(secret, "dedup")
        self.aead = AESGCM(_derive(secret, "contact-address"))
        self.fingerprint = fingerprint(secret)


class Keyring:
    """Pseudonyms (HMAC-SHA256) and address encryption (AES-256-GCM) for one instance."""

    def __init__(self, secret: bytes | Mapping[int, bytes]) -> None:
        secrets = {1: secret} if isinstance(secret, bytes) else dict(secret)
        if not secrets or 1 not in secrets:
            raise ValueError("the keyring needs version 1 of the instance secret")
        if any(len(s) < MIN_SECRET_BYTES for s in secrets.values()):
            raise ValueError("the instance secret must be at least 32 bytes")
        self._versions = {v: _Version(s) for v, s in sorted(secrets.items())}
        self._current_secret = secrets[max(secrets)]
        self.current = max(self._versions)
        # version -> first round id whose respondent pseudonyms use it (set at start-up from
        # the database; version 1 covers every round before the first rotation).
        self._rounds_from: dict[int, int] = {1: 0}

    # ------------------------------------------------------------------ versions
    @property
    def versions(self) -> list[int]:
        return sorted(self._versions)

    def fingerprints(self) -> dict[int, str]:
        return {v: k.fingerprint for v, k in self._versions.items()}

    def use_from_round(self, rounds_from: Mapping[int, int]) -> None:
        """Which rounds each version serves (from the database's key_fingerprints)."""
        self._rounds_from = {1: 0} | {v: r for v, r in rounds_from.items() if v in self._versions}

    def version_for_round(self, round_id: int) -> int:
        return max(v for v, first in self._rounds_from.items() if round_id >= first)

    def subkey(self, purpose: str) -> bytes:
        """A key for another purpose (the portal's CSRF tokens), from the current version."""
        return _derive(self._current_secret, purpose)

    # ------------------------------------------------------------------ pseudonyms
    def conversation_key(self, channel: str, user_id: str) -> str:
        """The pseudonym under which a channel user's conversation state is kept."""
        key = self._versions[self.current].pseudonym_key
        return self._hmac(key, _conversation(channel, user_id))

    def older_conversation_keys(self, channel: str, user_id: str) -> list[str]:
        """The same pseudonym under the older versions, newest first: a conversation begun
        before a rotation is found under one of them and moved to the current key."""
        return [
            self._hmac(self._versions[v].pseudonym_key, _conversation(channel, user_id))
            for v in sorted(self._versions, reverse=True)
            if v != self.current
        ]

    def respondent(self, round_id: int, channel: str, user_id: str) -> str:
        """The pseudonym of a worker within one round; rounds cannot be joined on it."""
        key = self._versions[self.version_for_round(round_id)].pseudonym_key
        return self._hmac(key, f"respondent|{round_id}|{channel}|{user_id}")

    def message_key(self, channel: str, message_id: str) -> str:
        """A de-duplication key for an inbound message id (always under version 1)."""
        return self._hmac(self._versions[1].dedup_key, f"{channel}|{message_id}")

    # ------------------------------------------------------------------ addresses
    def encrypt_address(self, channel: str, address: str) -> bytes:
        """Encrypt a chat id or phone number; the channel is bound in as associated data."""
        nonce = os.urandom(NONCE_BYTES)
        aead = self._versions[self.current].aead
        return nonce + aead.encrypt(nonce, address.encode(), channel.encode())

    def decrypt_address(self, channel: str, blob: bytes) -> str:
        """Decrypt what encrypt_address produced, under the current version or an older one
        (a rotation re-encrypts every address, so the older ones are a fallback only)."""
        for version in sorted(self._versions, reverse=True):
            try:
                aead = self._versions[version].aead
                plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], channel.encode())
            except Exception:  # cryptography raises InvalidTag without a message
                continue
            return plain.decode()
        raise AddressDecryptionError("cannot decrypt contact address")

    @staticmethod
    def _hmac(key: bytes, message: str) -> str:
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _conversation(channel: str, user_id: str) -> str:
    return f"conversation|{channel}|{user_id}"
