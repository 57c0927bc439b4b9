"""The local OpenID provider (Keycloak, deploy/local/oidc.sh) for the tests that need one,
and a person's side of its pages, driven with plain form posts.

``provider()`` uses a running provider, or starts one (and the session fixture stops what
it started); where it cannot (no Java 21+, no Maven to fetch it) the tests are skipped
saying why. Keycloak's pages are plain HTML forms, so signing in takes GETs and POSTs;
the console's browser tests drive the same pages with Chromium.
"""

import http.cookiejar
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from privacyctl import oidc as device

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local" / "oidc.sh"
PASSWORD = "dev-password"
"""Every user of the development realm (deploy/local/oidc/realm.json) has it."""
AUDIENCE = "privacy-events"
ROLE_CLAIM = "privacy_role"
USERS = {
    "security": "security",
    "auditor": "auditor",
    "admin": "admin",
    "member_org": "member",
    "subject": "subject",
    "unknown": "stranger",
}
"""The realm's user for each role (``unknown``: a role the project does not know)."""
CONSOLE_CLIENT = "privacy-console"
CONSOLE_SECRET = "privacy-console-development-secret"
CLI_CLIENT = "privacyctl"


@dataclass
class Provider:
    """A running provider: its issuer, and whether this session started it (and how long
    that took)."""

    issuer: str
    started: bool = False
    startup_seconds: float | None = None

    def settings(self) -> dict[str, Any]:
        """The services' settings that make them accept this provider's tokens."""
        return {
            "oidc_issuer": self.issuer,
            "oidc_audience": AUDIENCE,
            "oidc_role_claim": ROLE_CLAIM,
        }


def _script(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        start_new_session=True,  # see start_early
    )


def unavailable() -> str | None:
    """Why the provider cannot be started here, or None."""
    if _script("status").stdout.startswith("oidc: running"):
        return None
    java = _script("java")
    if java.returncode != 0:
        return java.stderr.strip().removeprefix("error: ") or "no Java 21 or newer"
    return None


@dataclass
class _Starting:
    """A start begun in the background by this session."""

    process: subprocess.Popen[str]
    began: float


_starting: _Starting | None = None


def start_early() -> None:
    """Begin starting the provider in the background, so that its minutes of start-up run
    beside the tests that come before the first one needing it (which waits for it)."""
    global _starting
    if _starting is not None or unavailable() is not None:
        return
    if _script("status").stdout.startswith("oidc: running"):
        return
    # A session of its own: under xdist the worker that began the start may end first, and
    # its process group (Keycloak included, were it a member) goes with it, while another
    # worker's tests still need the provider.
    process = subprocess.Popen(
        ["bash", str(SCRIPT), "start"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    _starting = _Starting(process, time.monotonic())


def start() -> Provider:
    """The running provider: started by ``start_early`` (waited for), already running, or
    started now."""
    issuer = _script("issuer").stdout.strip()
    if _starting is not None:
        output, _ = _starting.process.communicate(timeout=1200)
        if _starting.process.returncode != 0:
            raise RuntimeError(f"deploy/local/oidc.sh start failed:\n{output}")
        return Provider(issuer, started=True, startup_seconds=time.monotonic() - _starting.began)
    if _script("status").stdout.startswith("oidc: running"):
        return Provider(issuer)
    began = time.monotonic()
    started = _script("start")
    if started.returncode != 0:
        raise RuntimeError(f"deploy/local/oidc.sh start failed:\n{started.stdout}{started.stderr}")
    return Provider(issuer, started=True, startup_seconds=time.monotonic() - began)


_running_before: bool | None = None


def note_running_before() -> None:
    """Remember whether the provider ran before this test run (called once, in the run's
    own process: the only process under xdist that outlives every worker)."""
    global _running_before
    _running_before = _script("status").stdout.startswith("oidc: running")


def finish_early_start() -> None:
    """Let a start this process began in the background finish (a worker's end), so that
    nothing is left half-started; stopping is the run's own process's job."""
    global _starting
    if _starting is not None and _starting.process.poll() is None:
        _starting.process.wait(timeout=1200)
    _starting = None


def stop_if_started_by_run() -> None:
    """Stop the provider if it was not running when this test run began, and only then
    (under xdist every worker may have begun a start; the run's own process stops it once
    all of them are done)."""
    finish_early_start()
    if _running_before is False and _script("status").stdout.startswith("oidc: running"):
        _script("stop")


class _LoopbackPolicy(http.cookiejar.DefaultCookiePolicy):
    """Cookies as a browser keeps them for 127.0.0.1: Keycloak's are ``Secure`` (a browser
    counts loopback as a secure context, so sends them over plain HTTP there) and carry
    ``Version=1``, which the standard library would otherwise hold back."""

    def __init__(self) -> None:
        super().__init__(secure_protocols=("https", "wss", "http"))

    def set_ok_version(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return True

    def return_ok_version(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return True


def browser() -> httpx.Client:
    """An HTTP client that keeps and sends the provider's cookies as a browser does on
    127.0.0.1, and follows redirects."""
    jar = http.cookiejar.CookieJar(policy=_LoopbackPolicy())

    def send_cookies(request: httpx.Request) -> None:
        # httpx merges a client's cookies into a jar of the default policy; send ours.
        carrier = urllib.request.Request(str(request.url))
        jar.add_cookie_header(carrier)
        cookie = carrier.get_header("Cookie")
        if cookie:
            request.headers["Cookie"] = cookie
        elif "Cookie" in request.headers:
            del request.headers["Cookie"]

    return httpx.Client(
        cookies=jar, follow_redirects=True, timeout=30, event_hooks={"request": [send_cookies]}
    )


@dataclass
class Form:
    """One HTML form: where it posts and the values of its inputs."""

    action: str
    method: str = "get"
    fields: dict[str, str] = field(default_factory=dict)
    submits: list[tuple[str, str]] = field(default_factory=list)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif tag in ("input", "button") and self.forms and a.get("name"):
            kind = a.get("type", "submit" if tag == "button" else "text")
            if kind == "submit":
                self.forms[-1].submits.append((a["name"], a.get("value", "")))
            elif kind not in ("checkbox", "radio") or "checked" in a:
                self.forms[-1].fields[a["name"]] = a.get("value", "")


def forms(html: str) -> list[Form]:
    """The forms of a page."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def sign_in(
    http: httpx.Client, url: str, username: str, password: str = PASSWORD
) -> httpx.Response:
    """Open ``url`` (a page of the provider that asks the person to sign in) and sign in as
    ``username``, answering the pages that follow (a consent to grant, a device code to
    confirm) with their first button, until a page asks nothing more or the provider
    sends the browser elsewhere. The last response."""
    page = http.get(url)
    origin = issuer_origin(url)
    for _ in range(6):
        html = "text/html" in page.headers.get("content-type", "")
        found = forms(page.text) if html and str(page.url).startswith(origin) else []
        if not found:
            return page
        form = found[0]
        values = dict(form.fields)
        if "username" in values or "password" in values:
            values |= {"username": username, "password": password}
        if form.submits:
            name, value = form.submits[0]
            values[name] = value
        target = urljoin(str(page.url), form.action)
        page = http.post(target, data=values) if form.method == "post" else http.get(target)
    return page


def issuer_origin(url: str) -> str:
    """``scheme://host:port`` of a URL."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.netloc.decode()}"


def device_tokens(issuer: str, username: str) -> dict[str, Any]:
    """The provider's token answer for ``username``, by the device-code flow of the
    ``privacyctl`` client with the person's side done by form posts."""
    with httpx.Client(timeout=30) as http, browser() as web:
        meta = device.discover(http, issuer)
        grant = device.start_device_flow(http, meta, CLI_CLIENT)
        assert grant.verification_uri_complete is not None
        page = sign_in(web, grant.verification_uri_complete, username)
        assert not forms(page.text), f"the sign-in as {username} did not finish: {page.url}"
        return device.poll_device_flow(http, meta, CLI_CLIENT, grant)
