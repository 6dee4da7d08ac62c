"""Privacy by design: keyed pseudonyms and encrypted contact addresses (docs/privacy.md)."""

from bot.privacy.keys import Keyring

__all__ = ["Keyring"]
