"""Signed notes, checkpoints and cosignatures against the specs' own examples
(c2sp.org/signed-note, golang.org/x/mod/sumdb/note's documentation, tlog-checkpoint,
tlog-cosignature)."""

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.tlog.note import (
    COSIGNATURE_V1,
    ED25519,
    Checkpoint,
    Cosigner,
    NoteError,
    NoteSigner,
    Verifier,
    cosignature_time,
    key_id,
    open_checkpoint,
    open_note,
    parse_vkey,
    split,
)

# c2sp.org/signed-note, "Verifier keys": the spec's example key and the note it signed.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjO"
    "BH3mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()
# golang.org/x/mod/sumdb/note's documentation: a signer key, its verifier key, a note.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
    "otpRZb6KE6RyyBwJnAM=\n"
)


def go_signer() -> NoteSigner:
    name, _, rest = GO_SKEY.removeprefix("PRIVATE+KEY+").partition("+")
    seed = base64.b64decode(rest.partition("+")[2])[1:]
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(seed))


def test_the_spec_verifier_key_parses_and_its_key_id_is_derived_from_it() -> None:
    verifier = parse_vkey(SPEC_VKEY)
    assert verifier.name == "example.com/foo"
    assert verifier.signature_type == ED25519
    assert verifier.key_id.hex() == "530d903a"
    assert key_id("example.com/foo", ED25519, verifier.public_key).hex() == "530d903a"
    assert verifier.vkey == SPEC_VKEY


def test_the_spec_note_verifies_under_its_key() -> None:
    text, verified = open_note(SPEC_NOTE, [parse_vkey(SPEC_VKEY)])
    assert text == b"This is an example message.\n"
    assert [v.name for v in verified] == ["example.com/foo"]


def test_signing_the_go_example_reproduces_its_signature_and_keys() -> None:
    signer = go_signer()
    assert signer.verifier.vkey == GO_VKEY
    assert signer.signature_line(GO_TEXT) == GO_SIGNATURE  # Ed25519 is deterministic
    text, _ = open_note(GO_TEXT + b"\n" + GO_SIGNATURE.encode(), [parse_vkey(GO_VKEY)])
    assert text == GO_TEXT


def test_a_key_id_is_the_first_four_bytes_of_sha256_of_name_newline_type_key() -> None:
    key = bytes(range(32))
    digest = hashlib.sha256(b"log.example/a\n\x01" + key).digest()
    assert key_id("log.example/a", ED25519, key) == digest[:4]


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong id
        "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong name
        "example.com/foo+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # not base64
        "example.com/foo+530d903a",
        "example.com/foo",
    ],
)
def test_a_malformed_or_mismatched_verifier_key_is_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        parse_vkey(vkey)


def test_a_note_is_split_at_its_last_blank_line() -> None:
    text = b"first\n\nsecond\n"
    note = go_signer()
    signed = text + b"\n" + note.signature_line(text).encode()
    parsed = split(signed)
    assert parsed.text == text
    assert open_note(signed, [note.verifier])[0] == text


def test_signatures_by_unknown_keys_are_ignored_and_a_known_bad_one_rejects_the_note() -> None:
    ours, theirs = go_signer(), NoteSigner("other.example", Ed25519PrivateKey.generate())
    text = b"hello\n"
    both = text + b"\n" + (ours.signature_line(text) + theirs.signature_line(text)).encode()
    assert open_note(both, [ours.verifier])[1] == [ours.verifier]
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(both, [NoteSigner("x.example", Ed25519PrivateKey.generate()).verifier])
    forged = text + b"\n" + ours.signature_line(b"bye\n").encode()
    with pytest.raises(NoteError, match="does not verify"):
        open_note(forged, [ours.verifier])
    # the same name with another key id: an unknown key, ignored, so nothing verified
    impostor = NoteSigner(ours.name, Ed25519PrivateKey.generate())
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(text + b"\n" + impostor.signature_line(text).encode(), [ours.verifier])


@pytest.mark.parametrize(
    "note",
    [
        b"no blank line\n\xe2\x80\x94 a AAAAAAA=\n",
        b"text\n\n",
        b"text\n\n- a AAAAAAAA\n",
        b"te\x01xt\n\n\xe2\x80\x94 a AAAAAAAA\n",
        b"text\n\n\xe2\x80\x94 a AAAAAAAA",
    ],
)
def test_a_malformed_note_is_refused(note: bytes) -> None:
    with pytest.raises(NoteError):
        split(note)


def test_a_checkpoint_is_origin_size_and_base64_root_lines() -> None:
    root = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    checkpoint = Checkpoint("example.com/behind-the-sofa", 20852163, root)
    assert checkpoint.text == (
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    assert Checkpoint.parse(checkpoint.text) == checkpoint


@pytest.mark.parametrize(
    "text",
    [
        b"origin\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        b"origin\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        b"origin\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
        b"origin\n12\n",
        b"\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
    ],
)
def test_a_malformed_checkpoint_is_refused(text: bytes) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(text)


def test_a_cosignature_signs_the_header_the_time_and_the_checkpoint() -> None:
    witness = Cosigner("witness.example/w1", Ed25519PrivateKey.generate())
    assert witness.verifier.signature_type == COSIGNATURE_V1
    raw_key = witness.verifier.public_key
    assert (
        witness.verifier.key_id
        == hashlib.sha256(b"witness.example/w1\n\x04" + raw_key).digest()[:4]
    )
    checkpoint = Checkpoint("log.example/a", 3, bytes(32))
    line = witness.signature_line(checkpoint.text, 1679315147)
    signature = split(checkpoint.text + b"\n" + line.encode()).signatures[0]
    assert cosignature_time(signature) == 1679315147
    message = b"cosignature/v1\ntime 1679315147\n" + checkpoint.text
    witness.key.public_key().verify(signature.signature[8:], message)  # raises if not


def test_a_checkpoint_with_cosignatures_verifies_under_each_witness_key() -> None:
    log = go_signer()
    witnesses = [Cosigner(f"w{i}.example", Ed25519PrivateKey.generate()) for i in range(2)]
    text = Checkpoint("log.example/a", 10, bytes(range(32))).text
    lines = log.signature_line(text) + "".join(
        w.signature_line(text, 1700000000) for w in witnesses
    )
    note = text + b"\n" + lines.encode()
    checkpoint, verified = open_checkpoint(note, [log.verifier, *(w.verifier for w in witnesses)])
    assert checkpoint.size == 10
    assert verified == [log.verifier, *(w.verifier for w in witnesses)]
    for w in witnesses:
        assert open_note(note, [w.verifier])[1] == [w.verifier]
    # a cosignature over another time fails under its key
    tampered = note.replace(lines.encode(), log.signature_line(text).encode() + _retimed(lines))
    with pytest.raises(NoteError):
        open_note(tampered, [witnesses[0].verifier])


def _retimed(lines: str) -> bytes:
    signature = split(b"x\n\n" + lines.encode()).signatures[1]
    raw = signature.key_id + (1).to_bytes(8, "big") + signature.signature[8:]
    return f"\u2014 {signature.name} {base64.b64encode(raw).decode()}\n".encode()


def test_a_verifier_of_another_type_does_not_verify_a_log_signature() -> None:
    log = go_signer()
    text = b"x\n"
    as_cosigner = Verifier(log.name, COSIGNATURE_V1, log.verifier.public_key)
    signature = split(text + b"\n" + log.signature_line(text).encode()).signatures[0]
    assert not as_cosigner.verify(text, signature.signature)
