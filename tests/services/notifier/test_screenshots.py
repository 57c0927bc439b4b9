"""A Khmer, Burmese, Lao and Chinese notice, as the HTML part of the real message, in a browser.

The HTML part is taken from the MIME bytes the notifier sends and rendered by Debian's
Chromium (headless), as a mail client's HTML view would show it, into a PNG. Skipped where
Chromium is absent; ``bash deploy/local/browser.sh install`` installs it and the fonts.
The PNGs go to the test's temporary directory, or to ``SCREENSHOTS_DIR`` when set
(``make screenshots`` writes docs/screenshots/, which were looked at by eye for tofu).
"""

import email
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.notifier.config import TEMPLATES
from services.notifier.domain import Recipient, message_id
from services.notifier.messages import SAMPLES, Templates, build_message

CHROMIUM = shutil.which("chromium")
FONT_LANG = {"km": "km", "my": "my", "lo": "lo", "zh": "zh-cn"}
"""The fontconfig language each notice's script needs a font for."""

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def html_part(lang: str) -> str:
    templates = Templates.load(TEMPLATES)
    rendered = templates.render("breach_notice", lang, SAMPLES["breach_notice"])
    raw = build_message(
        rendered,
        sender="Privacy Notices <notices@example.org>",
        recipient=Recipient("ana@example.org", "Ana Cruz", lang),
        message_id=message_id(f"breach:b-1:{lang}", "notices.example.org"),
        date=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    )
    message = email.message_from_bytes(raw)
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "ascii")
    raise AssertionError("no text/html part")


@pytest.mark.parametrize("lang", ["km", "my", "lo", "zh"])
def test_the_notice_renders_its_script_in_a_browser(lang: str, tmp_path: Path) -> None:
    fonts = subprocess.run(
        ["fc-list", f":lang={FONT_LANG[lang]}", "family"], capture_output=True, text=True
    ).stdout
    assert fonts.strip(), f"no font covers '{lang}': run 'bash deploy/local/browser.sh install'"
    page = tmp_path / f"breach_notice-{lang}.html"
    page.write_text(html_part(lang), encoding="utf-8")
    out_dir = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"breach_notice-{lang}.png"
    png.unlink(missing_ok=True)
    assert CHROMIUM is not None
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=820,1100",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a page of text, not a blank one
