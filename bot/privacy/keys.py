"""Keys derived from the instance secret, and what they are used for.

One secret, several purposes: HKDF gives each purpose its own key, so a leaked pseudonym key
does not decrypt addresses and the other way round.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class AddressDecryptionError(ValueError):
    """A stored address could not be decrypted (wrong key or tampered data)."""


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"wagecheck/v1", info=purpose.encode()
    ).derive(secret)


class Keyring:
    """Pseudonyms (HMAC-SHA256) and address encryption (AES-256-GCM) for one instance."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the instance secret must be at least 32 bytes")
        self._pseudonym_key = _derive(secret, "pseudonym")
        self._dedup_key = _derive(secret, "dedup")
        self._aead = AESGCM(_derive(secret, "contact-address"))

    def conversation_key(self, channel: str, user_id: str) -> str:
        """The pseudonym under which a channel user's conversation state is kept."""
        return self._hmac(self._pseudonym_key, f"conversation|{channel}|{user_id}")

    def respondent(self, round_id: int, channel: str, user_id: str) -> str:
        """The pseudonym of a worker within one round; rounds cannot be joined on it."""
        return self._hmac(self._pseudonym_key, f"respondent|{round_id}|{channel}|{user_id}")

    def message_key(self, channel: str, message_id: str) -> str:
        """A de-duplication key for an inbound message id."""
        return self._hmac(self._dedup_key, f"{channel}|{message_id}")

    def encrypt_address(self, channel: str, address: str) -> bytes:
        """Encrypt a chat id or phone number; the channel is bound in as associated data."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, address.encode(), channel.encode())

    def decrypt_address(self, channel: str, blob: bytes) -> str:
        """Decrypt what encrypt_address produced."""
        try:
            plain = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], channel.encode())
        except Exception as exc:  # cryptography raises InvalidTag without a message
            raise AddressDecryptionError("cannot decrypt contact address") from exc
        return plain.decode()

    @staticmethod
    def _hmac(key: bytes, message: str) -> str:
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
