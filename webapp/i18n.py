"""Languages (Chinese by default, English available) and time shown in Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask, g, redirect, request, session
from flask_babel import Babel, get_translations, gettext, lazy_gettext
from werkzeug.wrappers import Response

from engine.sla.durations import parse_duration

SHANGHAI = ZoneInfo("Asia/Shanghai")
LANGUAGES = {"zh_CN": "中文", "en": "English"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

__all__ = ["LANGUAGES", "gettext", "init_app", "lazy_gettext"]


def current_language() -> str:
    """The page's language (chosen with /lang/…), or the API call's (its Accept-Language, set in ``g.lang``)."""
    lang = g.get("lang") or session.get("lang")
    return lang if lang in LANGUAGES else "zh_CN"


def compile_catalogs(folder: Path = TRANSLATIONS) -> dict[str, Translations]:
    """Each ``<locale>/LC_MESSAGES/messages.po`` compiled in memory (nothing is written: the package may be
    installed read-only, and a stale .mo never hides a newer .po)."""
    compiled: dict[str, Translations] = {}
    for po in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as src:
            catalog = read_po(src, locale=po.parent.parent.name)
        buffer = BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        compiled[po.parent.parent.name] = Translations(buffer, domain="messages")
    return compiled


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(SHANGHAI).strftime(fmt) if value else "—"


def local_midnight(moment: datetime) -> datetime:
    """The start of ``moment``'s day in Beijing time."""
    return moment.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(moment: datetime) -> datetime:
    """The start of ``moment``'s month in Beijing time."""
    return local_midnight(moment).replace(day=1)


def duration_text(seconds: float) -> str:
    """'3小时20分' / '3 h 20 min' style, for time left and time overdue; under a minute is '不足1分钟' (a
    badge never says '剩余 0分' with seconds left, nor '已超时 0分' just after the deadline)."""
    seconds = int(abs(seconds))
    if seconds < 60:
        return gettext("不足1分钟")
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


def limit_text(iso: str | None, calendar: str | None = None) -> str:
    """A step's time limit as people say it: '2个工作日', '4小时（工作时间）', '30分钟' (the ISO text if it is
    not one)."""
    if not iso:
        return ""
    try:
        limit = parse_duration(iso)
    except ValueError:
        return iso
    hours, rest = divmod(int(limit.clock.total_seconds()), 3600)
    parts = []
    if limit.days:
        working = calendar == "workday"
        parts.append(gettext("%(n)s个工作日", n=limit.days) if working else gettext("%(n)s天", n=limit.days))
    if hours:
        parts.append(gettext("%(n)s小时", n=hours))
    if rest // 60:
        parts.append(gettext("%(n)s分钟", n=rest // 60))
    text = ("" if current_language() == "zh_CN" else " ").join(parts) or iso
    if calendar == "workday" and (hours or rest):
        text += gettext("（工作时间）")
    return text


def _page_translations() -> Translations:
    """The request's catalogue, looked up once per request (Flask-Babel's own lookup, kept on ``g``)."""
    found = g.get("_eoms_translations")
    if found is None:
        found = g._eoms_translations = get_translations()
    return found  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    babel = Babel(app, locale_selector=current_language, timezone_selector=lambda: "Asia/Shanghai",
                  default_translation_directories=str(TRANSLATIONS))
    with app.app_context():
        cache = babel.domain_instance.cache  # Flask-Babel looks here before it reads .mo files from the folder
    for code in LANGUAGES:
        cache[str(Locale.parse(code)), "messages"] = Translations(domain="messages")
    for code, translations in compile_catalogs().items():
        cache[str(Locale.parse(code)), "messages"] = translations
    # the templates' _() calls (a page has 100–200) read the request's catalogue once, not each time through
    # Flask-Babel's context and locale lookups
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _page_translations().ugettext(s),
        ngettext=lambda s, p, n: _page_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _page_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _page_translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["limit_text"] = limit_text
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_language=current_language, duration_text=duration_text)

    @app.get("/lang/<code>")
    def set_language(code: str) -> Response:
        if code in LANGUAGES:
            session["lang"] = code
        target = request.referrer or "/"
        return redirect(target if target.startswith(request.host_url) else "/")
