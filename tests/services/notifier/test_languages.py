"""Breach notices in every language, each saying every required item in both parts."""

import re
import shutil
from pathlib import Path

import pytest

from services.notifier.config import TEMPLATES
from services.notifier.domain import language_of_country
from services.notifier.exceptions import TemplateBroken
from services.notifier.messages import (
    LANGUAGES,
    REQUIRED_ITEMS,
    SAMPLES,
    VARIANTS,
    Templates,
    marked_items,
)

SCRIPT = {
    "th": r"[\u0e00-\u0e7f]",
    "km": r"[\u1780-\u17ff]",
    "lo": r"[\u0e80-\u0eff]",
    "my": r"[\u1000-\u109f]",
    "zh": r"[\u4e00-\u9fff]",
    "vi": r"[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ]",
}
"""Characters only a notice written in the language's own script would hold."""

ENGLISH_HEADINGS = ("What happened", "The likely consequences", "What you can do")


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load(TEMPLATES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_template_renders_in_the_language_with_every_item(
    templates: Templates, lang: str
) -> None:
    for kind, sample in SAMPLES.items():
        for variant in VARIANTS.get(kind, [{}]):
            rendered = templates.render(kind, lang, {**sample, **variant})
            assert rendered.subject and rendered.text and rendered.html
            # The breach notice exists in every language; other kinds fall back to English.
            assert rendered.language == (lang if kind == "breach_notice" else "en")
    rendered = templates.render("breach_notice", lang, SAMPLES["breach_notice"])
    page_lang, items = marked_items(rendered.html)
    assert page_lang == lang
    sample = SAMPLES["breach_notice"]
    for item, source in REQUIRED_ITEMS["breach_notice"].items():
        said = sample[source] if isinstance(sample[source], str) else "full name"
        assert said in items[item], item
        assert said in rendered.text, item
    assert sample["reference"] in rendered.subject
    if lang != "en":
        assert not any(heading in rendered.text for heading in ENGLISH_HEADINGS)
    if lang in SCRIPT:
        assert re.search(SCRIPT[lang], rendered.html) and re.search(SCRIPT[lang], rendered.text)
        assert re.search(SCRIPT[lang], rendered.subject)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_notice_reads_without_the_optional_times_and_categories(
    templates: Templates, lang: str
) -> None:
    context = SAMPLES["breach_notice"] | {"started_at": None, "data_categories": []}
    rendered = templates.render("breach_notice", lang, context)
    assert "2026-11-18" not in rendered.text and "2026-11-19 10:00 UTC" in rendered.text


def test_a_persons_regional_tag_finds_its_language(templates: Templates) -> None:
    for tag, lang in {"km-KH": "km", "my-MM": "my", "zh-Hans-CN": "zh", "fil-PH": "fil"}.items():
        assert templates.render("breach_notice", tag, SAMPLES["breach_notice"]).language == lang


def test_an_organisations_country_names_its_language() -> None:
    expected = {"MY": "ms", "BN": "ms", "VN": "vi", "PH": "fil", "KH": "km", "LA": "lo"}
    expected |= {"MM": "my", "CN": "zh", "TH": "th", "ID": "id"}
    for country, lang in expected.items():
        assert language_of_country(country) == lang
    assert language_of_country("SG") is None and language_of_country(None) is None


def copy_templates(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_missing_language_stops_the_load(tmp_path: Path) -> None:
    target = copy_templates(tmp_path)
    shutil.rmtree(target / "breach_notice" / "lo")
    with pytest.raises(TemplateBroken, match="breach_notice: no 'lo' templates"):
        Templates.load(target)


def test_an_item_without_its_mark_stops_the_load(tmp_path: Path) -> None:
    target = copy_templates(tmp_path)
    edit(target / "breach_notice" / "km" / "body.html", 'data-item="measures_taken"', "")
    with pytest.raises(
        TemplateBroken, match=r'km/body\.html: no element marked data-item="measures_taken"'
    ):
        Templates.load(target)


def test_an_item_marked_but_not_said_stops_the_load(tmp_path: Path) -> None:
    target = copy_templates(tmp_path)
    html = target / "breach_notice" / "my" / "body.html"
    # The translator put the consequences where the measures go, and the other way round.
    edit(html, "{{ likely_consequences }}", "{{ SWAP }}")
    edit(html, "{{ measures_taken }}", "{{ likely_consequences }}")
    edit(html, "{{ SWAP }}", "{{ measures_taken }}")
    with pytest.raises(
        TemplateBroken, match=r'my/body\.html: data-item="likely_consequences" does not say'
    ):
        Templates.load(target)


def test_a_plain_text_part_without_an_item_stops_the_load(tmp_path: Path) -> None:
    target = copy_templates(tmp_path)
    edit(target / "breach_notice" / "zh" / "body.txt", "{{ what_you_can_do }}", "")
    with pytest.raises(TemplateBroken, match=r"zh/body\.txt: does not say what_you_can_do"):
        Templates.load(target)


def test_a_page_in_the_wrong_language_stops_the_load(tmp_path: Path) -> None:
    target = copy_templates(tmp_path)
    edit(target / "breach_notice" / "vi" / "body.html", 'lang="vi"', 'lang="en"')
    with pytest.raises(TemplateBroken, match=r"vi/body\.html: <html lang> is 'en', not 'vi'"):
        Templates.load(target)


def test_the_categories_are_checked_in_their_own_item(tmp_path: Path) -> None:
    target = copy_templates(tmp_path)
    edit(
        target / "breach_notice" / "fil" / "body.html",
        "<li>{{ category|category }}</li>",
        "<li>{{ category }}</li>",
    )
    with pytest.raises(TemplateBroken, match=r"fil/body\.html: data-item=\"data_involved\""):
        Templates.load(target)
