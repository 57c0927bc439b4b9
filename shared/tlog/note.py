"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, the checkpoints they carry
(c2sp.org/tlog-checkpoint) and witnesses' timestamped cosignatures
(c2sp.org/tlog-cosignature, ``cosignature/v1``).

A note is text ending in a newline, a blank line, then signature lines
``— <key name> <base64(key id || signature)>``. The text is split from its signatures
at the *last* blank line. A verifier ignores signatures by keys it does not know (name
and key id both), rejects the note when a known key's signature fails, and when no
known key signed it.
"""

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
"""The signature type of a log's Ed25519 note signatures."""
COSIGNATURE_V1 = 0x04
"""The signature type of timestamped Ed25519 witness cosignatures."""
EM_DASH = "\u2014"
MAX_SIGNATURES = 100
"""Signature lines a note may carry (the spec asks verifiers to accept at least 16)."""
COSIGNATURE_HEADER = b"cosignature/v1\n"


class NoteError(ValueError):
    """A note, key or checkpoint that is malformed, or does not verify."""


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """SHA-256(key name || 0x0A || signature type || public key)[:4]."""
    check_key_name(name)
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


def check_key_name(name: str) -> None:
    """A key name is non-empty, without spaces or ``+``."""
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"key name {name!r}: must be non-empty, without spaces or '+'")


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A public key as notes name it: a name, a signature type, the key, its id."""

    name: str
    signature_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.signature_type, self.public_key)

    @property
    def vkey(self) -> str:
        """``<name>+<hex key id>+<base64(type || key)>``: the verifier key to publish."""
        material = base64.b64encode(bytes([self.signature_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (after the key id) is this key's over ``message``."""
        if self.signature_type == COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return False
            (timestamp,) = struct.unpack(">Q", signature[:8])
            message = cosignature_message(message, timestamp)
            signature = signature[8:]
        elif self.signature_type != ED25519 or len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_vkey(vkey: str) -> Verifier:
    """A verifier key ``<name>+<hex key id>+<base64(type || key)>``, checked."""
    name, plus, rest = vkey.partition("+")
    hex_id, plus2, material = rest.partition("+")
    if not plus or not plus2 or len(hex_id) != 8:
        raise NoteError(f"verifier key {vkey!r}: expected <name>+<hex key id>+<base64 key>")
    try:
        raw = base64.b64decode(material, validate=True)
        wanted = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"verifier key {vkey!r}: {exc}") from exc
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError(f"verifier key {vkey!r}: not an Ed25519 key (type 0x01 or 0x04)")
    verifier = Verifier(name, raw[0], raw[1:])
    if verifier.key_id != wanted:
        raise NoteError(f"verifier key {vkey!r}: its key id does not match its key")
    return verifier


@dataclass(frozen=True)
class NoteSigner:
    """Signs notes as ``name`` with an Ed25519 key (the log's)."""

    name: str
    key: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, ED25519, _raw(self.key.public_key()))

    def signature_line(self, text: bytes) -> str:
        """``— <name> <base64(key id || signature)>`` over the note text."""
        signature = self.verifier.key_id + self.key.sign(text)
        return f"{EM_DASH} {self.name} {base64.b64encode(signature).decode()}\n"


@dataclass(frozen=True)
class Cosigner:
    """A witness's key: cosigns checkpoints with timestamped signatures (cosignature/v1)."""

    name: str
    key: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, COSIGNATURE_V1, _raw(self.key.public_key()))

    def signature_line(self, text: bytes, timestamp: int) -> str:
        """The cosignature line over a checkpoint's note text at ``timestamp`` (seconds)."""
        signature = self.key.sign(cosignature_message(text, timestamp))
        body = self.verifier.key_id + struct.pack(">Q", timestamp) + signature
        return f"{EM_DASH} {self.name} {base64.b64encode(body).decode()}\n"


def cosignature_message(text: bytes, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header, ``time <seconds>``, the checkpoint."""
    if not 0 <= timestamp < 2**63:
        raise NoteError(f"cosignature timestamp {timestamp} out of range")
    return COSIGNATURE_HEADER + f"time {timestamp}\n".encode() + text


@dataclass(frozen=True)
class Signature:
    """One signature line: the key name, the key id and the signature after it."""

    name: str
    key_id: bytes
    signature: bytes

    @property
    def line(self) -> str:
        body = base64.b64encode(self.key_id + self.signature).decode()
        return f"{EM_DASH} {self.name} {body}\n"


@dataclass(frozen=True)
class Note:
    """A note split into its text and signatures; nothing verified yet."""

    text: bytes
    signatures: tuple[Signature, ...]


def split(note: bytes) -> Note:
    """The note's text and signature lines, split at the last blank line."""
    try:
        decoded = note.decode()
    except UnicodeDecodeError as exc:
        raise NoteError("a note is UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in decoded):
        raise NoteError("a note holds no control characters but newlines")
    at = note.rfind(b"\n\n")
    if at < 0 or not note.endswith(b"\n"):
        raise NoteError("a note is text, a blank line and signature lines, each ending in \\n")
    text, block = note[: at + 1], note[at + 2 :]
    lines = block.decode().split("\n")[:-1]
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note carries 1 to {MAX_SIGNATURES} signature lines")
    return Note(text, tuple(_signature(line) for line in lines))


def _signature(line: str) -> Signature:
    dash, _, rest = line.partition(" ")
    name, _, body = rest.partition(" ")
    if dash != EM_DASH or not name or not body or " " in body:
        raise NoteError(f"signature line {line!r}: expected '— <name> <base64>'")
    try:
        raw = base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise NoteError(f"signature line {line!r}: {exc}") from exc
    if len(raw) < 5:
        raise NoteError(f"signature line {line!r}: too short")
    return Signature(name, raw[:4], raw[4:])


def open_note(note: bytes, verifiers: list[Verifier]) -> tuple[bytes, list[Verifier]]:
    """The note's text and the known keys whose signatures verified. Signatures by
    unknown keys are ignored; a known key's failing signature, or no known key's
    signature at all, is a :class:`NoteError`."""
    parsed = split(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[Verifier] = []
    for signature in parsed.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            continue
        if not verifier.verify(parsed.text, signature.signature):
            raise NoteError(f"the signature of {signature.name} does not verify")
        if verifier not in verified:
            verified.append(verifier)
    if not verified:
        raise NoteError("no signature by a known key")
    return parsed.text, verified


def cosignature_time(signature: Signature) -> int:
    """The timestamp a cosignature/v1 carries (seconds since the epoch)."""
    if len(signature.signature) != 72:
        raise NoteError("a cosignature is 8 bytes of time and 64 of signature")
    return int(struct.unpack(">Q", signature.signature[:8])[0])


@dataclass(frozen=True)
class Checkpoint:
    """A log's checkpoint: its origin, its size, its root hash (and extension lines)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> bytes:
        """The note text: origin, decimal size, base64 root, extensions, each a line."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return ("\n".join([*lines, *self.extensions]) + "\n").encode()

    @classmethod
    def parse(cls, text: bytes) -> "Checkpoint":
        """A checkpoint's note text, checked (no leading zeroes, a 32-byte root)."""
        lines = text.decode().split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint is at least three lines, each ending in \\n")
        origin, size, root, *extensions = lines[:-1]
        if not origin:
            raise NoteError("a checkpoint's origin is not empty")
        if not size.isdigit() or not size.isascii() or (size != "0" and size.startswith("0")):
            raise NoteError(f"checkpoint size {size!r}: a decimal without leading zeroes")
        try:
            raw = base64.b64decode(root, validate=True)
        except binascii.Error as exc:
            raise NoteError(f"checkpoint root {root!r}: {exc}") from exc
        if len(raw) != 32:
            raise NoteError("a checkpoint's root hash is 32 bytes")
        if any(not line for line in extensions):
            raise NoteError("a checkpoint holds no empty lines")
        return cls(origin, int(size), raw, tuple(extensions))


def open_checkpoint(note: bytes, verifiers: list[Verifier]) -> tuple[Checkpoint, list[Verifier]]:
    """A signed checkpoint, opened with :func:`open_note` and parsed."""
    text, verified = open_note(note, verifiers)
    return Checkpoint.parse(text), verified
