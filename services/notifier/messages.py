"""Notices as messages: Jinja2 templates per kind and language, rendered into MIME bytes.

Templates live in ``templates/<kind>/<language>/`` as ``subject.txt``, ``body.txt`` and
``body.html``; every kind has English, the fallback, and a breach notice every language of
:data:`LANGUAGES`. All of them are rendered once with sample data when the service starts,
and each rendering is checked for every item the kind must say (:data:`REQUIRED_ITEMS`:
the HTML part holds each in an element marked ``data-item="<item>"``, and both parts hold
its sample value), so a template that cannot render or leaves an item out stops the
start, not a send. A message is written by hand as multipart/alternative, UTF-8 in base64: the
standard library's ``email`` package took a fifth of a millisecond a message for the
same bytes (measured), and every header value here is one the notifier writes itself.
"""

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2

from services.notifier.domain import FALLBACK_LANGUAGE, Recipient, choose_language
from services.notifier.exceptions import TemplateBroken

PARTS = ("subject.txt", "body.txt", "body.html")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_ADDRESS = re.compile(r"^[^\s@<>\"(),;:\\\[\]]+@[^\s@<>\"(),;:\\\[\]]+$")


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _category(value: str) -> str:
    return value.replace("_", " ")


SAMPLES: dict[str, dict[str, Any]] = {
    "breach_notice": {
        "recipient_name": "Ana Cruz",
        "reference": "BR-2026-0007",
        "title": "Exposed contact list",
        "what_happened": "A contact list was readable by anyone with its link.",
        "started_at": datetime(2026, 11, 18, 8, 0, tzinfo=UTC),
        "ended_at": datetime(2026, 11, 19, 9, 30, tzinfo=UTC),
        "aware_at": datetime(2026, 11, 19, 10, 0, tzinfo=UTC),
        "data_categories": ["full_name", "email_address"],
        "likely_consequences": "Unwanted email, and phishing that uses your name.",
        "measures_taken": "The link was disabled and the list deleted.",
        "what_you_can_do": "Be wary of email asking for your password.",
        "contact_point": "privacy@example.org",
    },
    "recipient_notice": {
        "recipient_name": "Department of Trade and Industry",
        "organisation": "ph-dti",
        "request_id": "9b2e0c4e-1f7a-4c0e-9a59-3f0d7f1c2b11",
        "user_id": "u-1",
        "action": "erase",
        "data_categories": ["full_name", "email_address"],
        "last_received_at": datetime(2026, 11, 18, 8, 0, tzinfo=UTC),
        "requested_at": datetime(2026, 11, 19, 10, 0, tzinfo=UTC),
        "respond_by": datetime(2026, 12, 19, 10, 0, tzinfo=UTC),
        "confirm_url": "http://localhost:8003/recipient-requests/9b2e0c4e",
    },
}
"""Sample data every template of a kind is rendered with at start-up."""

VARIANTS: dict[str, list[dict[str, Any]]] = {
    "recipient_notice": [{"action": action} for action in ("erase", "rectify", "restrict")],
}
"""What changes between the samples of a kind whose templates say different things
(one rendering each at start-up, so every branch is checked)."""


LANGUAGES = ("en", "th", "id", "ms", "vi", "fil", "km", "lo", "my", "zh")
"""The languages of breach notices: English, Thai, Indonesian, Malay, Vietnamese,
Filipino, Khmer, Lao, Burmese and Chinese (simplified)."""

REQUIRED_LANGUAGES: dict[str, tuple[str, ...]] = {"breach_notice": LANGUAGES}
"""The languages a kind must have templates for; English alone for the others."""

REQUIRED_ITEMS: dict[str, dict[str, str]] = {
    "breach_notice": {
        "nature": "what_happened",
        "data_involved": "data_categories",
        "likely_consequences": "likely_consequences",
        "measures_taken": "measures_taken",
        "what_you_can_do": "what_you_can_do",
        "contact_point": "contact_point",
    },
}
"""What a kind's notice must say, item by item, and the sample field that says it (GDPR
Art. 34(2) and the ASEAN rules in docs/regimes.md: nature, contact point, likely
consequences, measures taken, what the person can do; and which data)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str


class Templates:
    """The compiled templates of every kind and language, checked by rendering them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self._env.filters["when"] = _when
        self._env.filters["category"] = _category
        self.languages: dict[str, frozenset[str]] = {}
        self._compiled: dict[tuple[str, str], tuple[jinja2.Template, ...]] = {}

    @classmethod
    def load(
        cls, directory: Path, samples: Mapping[str, Mapping[str, Any]] = SAMPLES
    ) -> "Templates":
        """Compile every template under ``directory`` and render each with ``samples``."""
        templates = cls(directory)
        if not directory.is_dir():
            raise TemplateBroken(f"templates: {directory} is not a directory")
        for kind_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
            kind = kind_dir.name
            if kind not in samples:
                raise TemplateBroken(f"templates/{kind}: no sample data to check it with")
            langs = sorted(p.name for p in kind_dir.iterdir() if p.is_dir())
            for lang in REQUIRED_LANGUAGES.get(kind, (FALLBACK_LANGUAGE,)):
                if lang not in langs:
                    raise TemplateBroken(f"templates/{kind}: no '{lang}' templates")
            for lang in langs:
                templates._compile(kind, lang)
                for variant in VARIANTS.get(kind, [{}]):
                    context = {**samples[kind], **variant}
                    check_items(kind, lang, templates.render(kind, lang, context), context)
            templates.languages[kind] = frozenset(langs)
        for kind in samples:
            if kind not in templates.languages:
                raise TemplateBroken(f"templates/{kind}: missing")
        return templates

    def _compile(self, kind: str, lang: str) -> None:
        compiled = []
        for part in PARTS:
            name = f"{kind}/{lang}/{part}"
            try:
                compiled.append(self._env.get_template(name))
            except jinja2.TemplateNotFound:
                raise TemplateBroken(f"templates/{name}: missing") from None
            except jinja2.TemplateError as exc:
                raise TemplateBroken(f"templates/{name}: {exc}") from exc
        self._compiled[(kind, lang)] = tuple(compiled)

    def render(self, kind: str, language: str | None, context: Mapping[str, Any]) -> Rendered:
        """The notice in ``language`` if there is a template for it, else in English."""
        lang = choose_language(language, self.languages.get(kind, frozenset(self._langs(kind))))
        subject, text, html = self._compiled[(kind, lang)]
        try:
            return Rendered(
                subject=_CONTROL.sub(" ", subject.render(context)).strip(),
                text=text.render(context),
                html=html.render(context),
                language=lang,
            )
        except jinja2.TemplateError as exc:
            raise TemplateBroken(f"templates/{kind}/{lang}: {exc}") from exc

    def _langs(self, kind: str) -> set[str]:
        return {lang for k, lang in self._compiled if k == kind}


class _Items(HTMLParser):
    """The text inside each element marked ``data-item``, and the page's ``lang``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: dict[str, str] = {}
        self.lang: str | None = None
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        if tag in _VOID:
            return
        item = found.get("data-item")
        if item is not None:
            self.items.setdefault(item, "")
        self._open.append((tag, item))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        for _, item in self._open:
            if item is not None:
                self.items[item] += data


_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})


def _said(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [_category(str(v)) for v in value]
    return [str(value)]


def marked_items(html: str) -> tuple[str | None, dict[str, str]]:
    """The page's ``lang``, and the text inside each element marked ``data-item``."""
    page = _Items()
    page.feed(html)
    page.close()
    return page.lang, page.items


def check_items(kind: str, lang: str, rendered: Rendered, context: Mapping[str, Any]) -> None:
    """Every item ``kind`` must say is in both parts of ``rendered``; raises TemplateBroken."""
    page_lang, items = marked_items(rendered.html)
    if page_lang != lang:
        raise TemplateBroken(
            f"templates/{kind}/{lang}/body.html: <html lang> is '{page_lang}', not '{lang}'"
        )
    for item, source in REQUIRED_ITEMS.get(kind, {}).items():
        if item not in items:
            raise TemplateBroken(
                f'templates/{kind}/{lang}/body.html: no element marked data-item="{item}"'
            )
        for value in _said(context[source]):
            if value not in items[item]:
                raise TemplateBroken(
                    f'templates/{kind}/{lang}/body.html: data-item="{item}" does not say '
                    f"{source} ({value!r})"
                )
            if value not in rendered.text:
                raise TemplateBroken(
                    f"templates/{kind}/{lang}/body.txt: does not say {item} ({source}: {value!r})"
                )


def valid_address(address: str) -> bool:
    """An address the notifier can put in an envelope and a header without harm."""
    return bool(_ADDRESS.match(address)) and len(address) <= 254


def _header(value: str) -> str:
    value = _CONTROL.sub(" ", value).strip()
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode()


def _base64(text: str) -> bytes:
    return base64.encodebytes(text.replace("\r\n", "\n").encode()).replace(b"\n", b"\r\n")


def build_message(
    rendered: Rendered,
    *,
    sender: str,
    recipient: Recipient,
    message_id: str,
    date: datetime,
) -> bytes:
    """The message as it goes over SMTP (CRLF line ends; aiosmtplib stuffs dots)."""
    name = _CONTROL.sub(" ", recipient.name or "").strip()
    boundary = "=_" + message_id.strip("<>").split("@")[0]
    head = (
        f"From: {sender}\r\n"
        f"To: {formataddr((name, recipient.address), charset='utf-8')}\r\n"
        f"Subject: {_header(rendered.subject)}\r\n"
        f"Date: {format_datetime(date.astimezone(UTC))}\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Language: {rendered.language}\r\n"
        "Auto-Submitted: auto-generated\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
        "\r\n"
    ).encode()
    part = 'Content-Type: text/{0}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    return b"".join(
        (
            head,
            f"--{boundary}\r\n".encode(),
            part.format("plain").encode(),
            _base64(rendered.text),
            f"--{boundary}\r\n".encode(),
            part.format("html").encode(),
            _base64(rendered.html),
            f"--{boundary}--\r\n".encode(),
        )
    )
