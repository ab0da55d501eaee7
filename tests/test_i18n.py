"""The English catalog covers every Chinese text the web app shows, with the same placeholders."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from tools.i18n import PO, extract

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_every_text_of_the_web_app_has_an_english_translation():
    with PO.open("rb") as src:
        catalog = read_po(src, locale="en")
    translated = {m.id: m.string for m in catalog if m.id}
    missing = sorted(m.id for m in extract() if m.id and not translated.get(m.id))
    assert missing == [], f"run `python -m tools.i18n` and translate: {missing[:10]}"


def test_placeholders_match():
    with PO.open("rb") as src:
        catalog = read_po(src, locale="en")
    wrong = [m.id for m in catalog if m.id and m.string and
             set(PLACEHOLDER.findall(m.id)) != set(PLACEHOLDER.findall(m.string))]
    assert wrong == []
