"""Passphrase-encrypted backup archives (docs/operations.md "Backups and restore").

Format: the header (magic `WAGECHECK-BACKUP`, a format byte, then a length-prefixed JSON
object: the scrypt parameters and salt, the chunk size, and a passphrase check value),
followed by chunks, each a 4-byte length and AES-256-GCM ciphertext of up to 1 MiB. Chunk
nonces are the chunk's number (11 bytes) and a byte marking the last chunk; the whole header
is every chunk's associated data. So a changed byte anywhere, chunks reordered, dropped or cut
off at the end, all fail to decrypt. The key is scrypt(passphrase, salt) with n=2^17, r=8,
p=1 (about 0.3 s and 128 MiB): a guessed passphrase costs as much.

Why not age (pyrage): its Python binding en- and decrypts whole byte strings in memory and
would be one more compiled dependency; `cryptography` is already used for the keys, and this
streams archives of any size in 1 MiB pieces."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from collections.abc import Callable
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"WAGECHECK-BACKUP"
FORMAT = 1
CHUNK = 1 << 20
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 17, 8, 1
MIN_PASSPHRASE = 12
Progress = Callable[[int], None]  # bytes done so far


class ArchiveError(ValueError):
    """An archive that cannot be read: wrong passphrase, damaged or changed, or no archive."""


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _check_value(key: bytes) -> str:
    return hmac.new(key, b"wagecheck backup passphrase check", hashlib.sha256).hexdigest()


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def encrypt(
    source: BinaryIO, out: BinaryIO, passphrase: str, progress: Progress | None = None
) -> None:
    """Encrypt everything readable from `source` into `out`."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ArchiveError(f"the passphrase must be at least {MIN_PASSPHRASE} characters")
    salt = os.urandom(16)
    key = _key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    params = {
        "kdf": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": base64.b64encode(salt).decode(),
        "cipher": "AES-256-GCM",
        "chunk": CHUNK,
        "check": _check_value(key),
    }
    body = json.dumps(params, sort_keys=True).encode()
    header = MAGIC + bytes([FORMAT]) + struct.pack(">I", len(body)) + body
    out.write(header)
    aead = AESGCM(key)
    counter, done = 0, 0
    chunk = source.read(CHUNK)
    while True:
        following = source.read(CHUNK)
        last = not following
        sealed = aead.encrypt(_nonce(counter, last), chunk, header)
        out.write(struct.pack(">I", len(sealed)) + sealed)
        done += len(chunk)
        if progress:
            progress(done)
        if last:
            return
        chunk, counter = following, counter + 1


def decrypt(
    source: BinaryIO, out: BinaryIO, passphrase: str, progress: Progress | None = None
) -> None:
    """Decrypt an archive into `out`; ArchiveError for a wrong passphrase or any change."""
    start = source.read(len(MAGIC) + 5)
    if len(start) < len(MAGIC) + 5 or not start.startswith(MAGIC):
        raise ArchiveError("this is not a WageCheck backup archive")
    if start[len(MAGIC)] != FORMAT:
        raise ArchiveError(f"archive format {start[len(MAGIC)]} is not known to this version")
    (length,) = struct.unpack(">I", start[len(MAGIC) + 1 :])
    body = source.read(length)
    try:
        params = json.loads(body)
        key = _key(
            passphrase, base64.b64decode(params["salt"]), params["n"], params["r"], params["p"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveError("the archive's header is damaged") from exc
    if not hmac.compare_digest(_check_value(key), str(params.get("check", ""))):
        raise ArchiveError("wrong passphrase (or the archive's header was changed)")
    header = start + body
    aead = AESGCM(key)
    counter, done = 0, 0
    while True:
        size = source.read(4)
        if len(size) != 4:
            raise ArchiveError("the archive is cut short (its last part is missing)")
        (n,) = struct.unpack(">I", size)
        sealed = source.read(n)
        try:
            plain, last = aead.decrypt(_nonce(counter, False), sealed, header), False
        except InvalidTag:
            try:
                plain, last = aead.decrypt(_nonce(counter, True), sealed, header), True
            except InvalidTag:
                raise ArchiveError(
                    f"the archive is damaged or was changed (in part {counter + 1})"
                ) from None
        out.write(plain)
        done += len(plain)
        if progress:
            progress(done)
        if last:
            if source.read(1):
                raise ArchiveError("the archive has data after its last part: it was changed")
            return
        counter += 1
