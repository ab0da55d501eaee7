"""Languages (Chinese by default, English available) and time shown in Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, redirect, request, session
from flask_babel import Babel, gettext, lazy_gettext
from werkzeug.wrappers import Response

SHANGHAI = ZoneInfo("Asia/Shanghai")
LANGUAGES = {"zh_CN": "中文", "en": "English"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

__all__ = ["LANGUAGES", "gettext", "init_app", "lazy_gettext"]


def current_language() -> str:
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "zh_CN"


def compile_catalogs() -> None:
    """Compile each .po to its .mo when the .po is newer (the .mo files are build output)."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as src:
                catalog = read_po(src)
            with mo.open("wb") as out:
                write_mo(out, catalog)


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(SHANGHAI).strftime(fmt) if value else "—"


def local_midnight(moment: datetime) -> datetime:
    """The start of ``moment``'s day in Beijing time."""
    return moment.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(moment: datetime) -> datetime:
    """The start of ``moment``'s month in Beijing time."""
    return local_midnight(moment).replace(day=1)


def duration_text(seconds: float) -> str:
    """'3小时20分' / '3 h 20 min' style, for time left and time overdue."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(gettext("%(n)s天", n=days))
    if hours:
        parts.append(gettext("%(n)s小时", n=hours))
    if minutes or not parts:
        parts.append(gettext("%(n)s分", n=minutes))
    return "".join(parts) if current_language() == "zh_CN" else " ".join(parts)


def init_app(app: Flask) -> None:
    compile_catalogs()
    Babel(app, locale_selector=current_language, timezone_selector=lambda: "Asia/Shanghai",
          default_translation_directories=str(TRANSLATIONS))
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_language=current_language, duration_text=duration_text)

    @app.get("/lang/<code>")
    def set_language(code: str) -> Response:
        if code in LANGUAGES:
            session["lang"] = code
        target = request.referrer or "/"
        return redirect(target if target.startswith(request.host_url) else "/")
