"""Keep the web app's English catalog in step with the Chinese source texts.

    python -m tools.i18n     extract the texts of webapp/ (Python and templates) and update
                             webapp/translations/en/LC_MESSAGES/messages.po, keeping existing translations
The app compiles the .po in memory when it starts (webapp/i18n.py); no .mo file is written.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
WEBAPP = ROOT / "webapp"
PO = WEBAPP / "translations" / "en" / "LC_MESSAGES" / "messages.po"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract"),
           ("*/templates/**.html", "jinja2.ext:babel_extract")]


def extract() -> Catalog:
    template = Catalog(project="EOMS", charset="utf-8")
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    for filename, lineno, message, comments, context in extract_from_dir(WEBAPP, METHODS, keywords=keywords):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def main() -> None:
    template = extract()
    if PO.exists():
        with PO.open("rb") as src:
            catalog = read_po(src, locale="en")
    else:
        PO.parent.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(locale="en", project="EOMS", charset="utf-8")
    catalog.update(template, no_fuzzy_matching=True)
    with PO.open("wb") as out:
        write_po(out, catalog, sort_output=True, no_location=True, ignore_obsolete=True, width=120)
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"{len(catalog)} messages, {len(missing)} without an English text")


if __name__ == "__main__":
    main()
