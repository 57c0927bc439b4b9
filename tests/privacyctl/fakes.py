"""A faked HTTP layer for the command line's fast tests: routes answered by functions,
and a small audit log whose tree is built by the service's own Merkle code."""

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.audit import merkle
from services.audit.domain import tree_head_message
from shared.tlog.note import Verifier

Handler = Callable[[httpx.Request, re.Match[str]], httpx.Response]

ORIGIN = "localhost/privacy-audit-log"


class FakeApi:
    """Routes by method and a path pattern; every request is kept in ``requests``."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, handler: Handler) -> None:
        """Answer ``method path`` (a regular expression) with ``handler``."""
        self.routes.append((method, re.compile(path + "$"), handler))

    def answer(self, method: str, path: str, status: int, body: Any = None) -> None:
        """Answer ``method path`` with a fixed status and JSON body."""
        self.on(method, path, lambda _r, _m: httpx.Response(status, json=body))

    def transport(self) -> httpx.MockTransport:
        """The transport to put in ``privacyctl.core.TRANSPORT``."""

        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            for method, pattern, handler in reversed(self.routes):
                match = pattern.match(request.url.path)
                if method == request.method and match:
                    return handler(request, match)
            return httpx.Response(
                404, json={"detail": {"error": "NotFound", "message": "no route"}}
            )

        return httpx.MockTransport(handle)


def error(kind: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    """The services' error body."""
    return {"detail": {"error": kind, "message": message, "field": field, **extra}}


class FakeLog:
    """An audit log of ``size`` entries, its stored tree and a signed head."""

    def __init__(self, size: int) -> None:
        self.leaves = [json.dumps({"n": i}, sort_keys=True).encode() for i in range(size)]
        self.nodes: dict[tuple[int, int], bytes] = {}
        frontier = merkle.Frontier()
        for i, leaf in enumerate(self.leaves):
            self.nodes[(0, i)] = merkle.leaf_hash(leaf)
            for level, index, node in frontier.append([merkle.leaf_hash(leaf)]):
                self.nodes[(level, index)] = node
        self.key = Ed25519PrivateKey.generate()
        self.size = size
        self.root = frontier.root()
        self.signed_at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def tamper(self, seq: int) -> None:
        """Change entry ``seq``'s data, as an UPDATE in the database would; the stored
        tree keeps the old hashes."""
        self.leaves[seq] = b'{"tampered":true}'

    def mount(self, api: FakeApi, *, bulk: bool = False) -> None:
        """Serve the log's routes on ``api``; with ``bulk``, the bulk read of entries too."""
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        millis = int(self.signed_at.timestamp() * 1000)
        signature = self.key.sign(tree_head_message(self.size, self.root, self.signed_at))
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        head = {
            "tree_size": self.size,
            "root_hash": b64(self.root),
            "timestamp": millis,
            "signed_at": self.signed_at.isoformat(),
            "signature": b64(signature),
            "key_id": "k1",
        }
        api.answer("GET", "/tree-heads/latest", 200, head)
        api.answer(
            "GET",
            "/public-key",
            200,
            {
                "algorithm": "Ed25519",
                "key_id": "k1",
                "public_key": b64(public),
                "origin": ORIGIN,
                "verifier_key": Verifier(ORIGIN, 0x01, public).vkey,
            },
        )

        def entry(_r: httpx.Request, m: re.Match[str]) -> httpx.Response:
            seq = int(m.group(1))
            return httpx.Response(200, json={**disclosure(seq), "leaf_data": b64(self.leaves[seq])})

        def proof(request: httpx.Request, _m: re.Match[str]) -> httpx.Response:
            seq, size = int(request.url.params["seq"]), int(request.url.params["tree_size"])
            path = merkle.inclusion_proof(
                seq, size, lambda level, index: self.nodes[(level, index)]
            )
            body = {
                "seq": seq,
                "tree_size": size,
                "leaf_hash": b64(self.nodes[(0, seq)]),
                "audit_path": [b64(p) for p in path],
            }
            return httpx.Response(200, json=body)

        def entries(request: httpx.Request, _m: re.Match[str]) -> httpx.Response:
            start, end = int(request.url.params["start"]), int(request.url.params["end"])
            return httpx.Response(200, content=b"".join(x + b"\n" for x in self.leaves[start:end]))

        api.on("GET", r"/entries/(\d+)", entry)
        api.on("GET", "/proofs/inclusion", proof)
        if bulk:
            api.on("GET", "/entries", entries)


def disclosure(seq: int, **changes: Any) -> dict[str, Any]:
    """A disclosure row as the audit service shows it."""
    return {
        "seq": seq,
        "event_id": f"00000000-0000-4000-8000-{seq:012d}",
        "accessed_at": "2026-12-07T10:00:00+00:00",
        "recorded_at": "2026-12-07T10:00:01+00:00",
        "organisation_id": "ph-philexport",
        "organisation_country": "PH",
        "actor": "ph-philexport",
        "subject_id": f"user-{seq}",
        "subject_country": "PH",
        "fields": ["email_address"],
        "purpose": "member_organisation_sharing",
        "legal_basis": "consent",
        "legal_reference": None,
        "channel": "api",
        "decision": "allow",
        "decision_reason": None,
        "consent_id": None,
        "consent_version": None,
        "grant_id": None,
        "verdict": "valid",
        **changes,
    }
