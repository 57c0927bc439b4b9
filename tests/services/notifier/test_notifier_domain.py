"""The notifier's pure parts: Message-IDs, SMTP replies, languages, templates, DSNs."""

import email
import shutil
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import pytest

from services.notifier import dsn
from services.notifier.config import TEMPLATES, NotifierSettings
from services.notifier.domain import Recipient, Severity, choose_language, classify, message_id
from services.notifier.domain import queue_id as queue_id_of
from services.notifier.exceptions import MalformedBounce, TemplateBroken
from services.notifier.messages import SAMPLES, Templates, build_message, valid_address
from tests.services.notifier.test_evidence import dsn as make_dsn


def test_the_message_id_is_derived_from_the_key_and_stable() -> None:
    first = message_id("breach:b-1:u-1", "notices.example.org")
    assert first == message_id("breach:b-1:u-1", "notices.example.org")
    assert first != message_id("breach:b-1:u-2", "notices.example.org")
    assert first.startswith("<") and first.endswith("@notices.example.org>")
    assert len(first.split("@")[0]) == 33  # "<" and 32 hex digits of sha256


def test_the_message_id_domain_defaults_to_notices_at_the_from_domain() -> None:
    settings = NotifierSettings(smtp_from="DPO <dpo@platform.example>")
    assert settings.id_domain == "notices.platform.example"
    assert settings.from_address == "dpo@platform.example"


def test_4xx_is_temporary_and_5xx_permanent() -> None:
    assert classify(421) is classify(451) is classify(452) is Severity.TEMPORARY
    assert classify(550) is classify(554) is classify(535) is Severity.PERMANENT


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("2.0.0 Ok: queued as 4FZ9bT3xyz", "4FZ9bT3xyz"),
        ("OK id=1tQ8Zx-0004Xy-2B", "1tQ8Zx-0004Xy-2B"),
        ("2.0.0 OK 1700000000 a1-20020a17", None),
    ],
)
def test_the_queue_id_is_read_from_the_reply_when_named(reply: str, expected: str | None) -> None:
    assert queue_id_of(reply) == expected


def test_a_language_falls_back_to_its_primary_subtag_then_english() -> None:
    available = {"en", "th", "id"}
    assert choose_language("th-TH", available) == "th"
    assert choose_language("ID", available) == "id"
    assert choose_language("fr-CA", available) == "en"
    assert choose_language(None, available) == "en"


def test_every_shipped_template_renders_in_every_language() -> None:
    templates = Templates.load(TEMPLATES)
    assert templates.languages["breach_notice"] >= {"en", "th", "id"}


def copy_templates(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


def test_a_template_that_cannot_render_refuses_to_load(tmp_path: Path) -> None:
    target = copy_templates(tmp_path)
    (target / "breach_notice" / "th" / "body.txt").write_text("{{ what_hapened }}\n")
    with pytest.raises(TemplateBroken, match=r"th.*what_hapened"):
        Templates.load(target)


def test_a_template_with_bad_syntax_refuses_to_load(tmp_path: Path) -> None:
    target = copy_templates(tmp_path)
    (target / "breach_notice" / "id" / "body.html").write_text("{% if %}\n")
    with pytest.raises(TemplateBroken, match=r"id/body\.html"):
        Templates.load(target)


def test_a_kind_without_english_or_a_part_refuses_to_load(tmp_path: Path) -> None:
    target = copy_templates(tmp_path)
    (target / "breach_notice" / "th" / "subject.txt").unlink()
    with pytest.raises(TemplateBroken, match=r"th/subject\.txt: missing"):
        Templates.load(target)
    shutil.rmtree(target / "breach_notice" / "en")
    with pytest.raises(TemplateBroken, match="no 'en' templates"):
        Templates.load(target)


def parts(message: Message) -> dict[str, str]:
    found = {}
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            found[part.get_content_type()] = payload.decode()
    return found


def test_a_message_is_well_formed_mime_with_both_parts_and_escaped_html() -> None:
    templates = Templates.load(TEMPLATES)
    context = dict(SAMPLES["breach_notice"]) | {"what_happened": "<script>x</script> & more"}
    rendered = templates.render("breach_notice", "th", context)
    mid = message_id("n-1", "notices.example.org")
    raw = build_message(
        rendered,
        sender="Privacy <notices@example.org>",
        recipient=Recipient("ana@example.org", "Ána Crüz", "th"),
        message_id=mid,
        date=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    )
    message = email.message_from_bytes(raw)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"] == mid
    assert str(email.header.make_header(email.header.decode_header(message["To"]))) == (
        "Ána Crüz <ana@example.org>"
    )
    body = parts(message)
    assert "<script>x</script> & more" in body["text/plain"]
    assert "&lt;script&gt;x&lt;/script&gt; &amp; more" in body["text/html"]
    assert "เกิดอะไรขึ้น" in body["text/plain"]


def test_a_name_or_subject_cannot_inject_headers() -> None:
    templates = Templates.load(TEMPLATES)
    context = dict(SAMPLES["breach_notice"]) | {"reference": "R\r\nBcc: evil@example.org"}
    rendered = templates.render("breach_notice", "en", context)
    raw = build_message(
        rendered,
        sender="notices@example.org",
        recipient=Recipient("ana@example.org", "Ana\r\nBcc: evil@example.org", "en"),
        message_id="<a@b>",
        date=datetime(2026, 11, 20, tzinfo=UTC),
    )
    message = email.message_from_bytes(raw)
    assert message["Bcc"] is None
    assert not valid_address("ana@example.org\r\nBcc: evil@example.org")
    assert not valid_address("not an address")


def test_a_postfix_bounce_reads_as_failed_with_its_status_and_message_id() -> None:
    report = dsn.parse(make_dsn("<abc@notices.example.org>"))
    assert report.message_id == "<abc@notices.example.org>"
    assert (report.action, report.status) == ("failed", "5.1.1")
    assert report.diagnostic and "Recipient address rejected" in report.diagnostic
    assert report.recipient == "rfc822; ana@example.org"


def test_a_bounce_with_the_whole_original_message_is_read_too() -> None:
    raw = make_dsn("<abc@n>").replace(b"text/rfc822-headers", b"message/rfc822")
    assert dsn.parse(raw).message_id == "<abc@n>"


def test_a_report_of_another_type_is_refused() -> None:
    raw = make_dsn("<abc@n>").replace(b"report-type=delivery-status", b"report-type=disposition")
    with pytest.raises(MalformedBounce, match="report-type=delivery-status"):
        dsn.parse(raw)
