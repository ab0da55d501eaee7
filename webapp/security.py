"""Secret key, security headers, request cleaning."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Request, Response
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.utils import cached_property

from eoms.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)


def secret_key(settings: Settings) -> str:
    """``EOMS_SECRET_KEY``, or a random key kept beside the SQLite file (never in the repository)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.storage_dir).parent / "secret_key"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key, encoding="ascii")
    path.chmod(0o600)
    return key


def apply_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


# NUL (PostgreSQL refuses it in text) and the bidirectional embedding, override and isolate controls, with
# which a note or a name can be made to read backwards (U+202A-U+202E, U+2066-U+2069)
_UNWANTED = {0x00: None, **{c: None for c in range(0x202A, 0x202F)}, **{c: None for c in range(0x2066, 0x206A)}}


def clean_text(value: str) -> str:
    """``value`` without NUL characters and bidirectional-override controls."""
    return value.translate(_UNWANTED)


def _needs_cleaning(value: str) -> bool:
    return value != value.translate(_UNWANTED)


class CleanRequest(Request):
    """A request whose query and form values never carry NUL characters or bidirectional-override controls: no
    browser sends them on purpose, PostgreSQL refuses NUL in text (a stray one must not turn a search into a
    server error), and the controls would make a note read backwards."""

    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:
        return _cleaned(Request.args.fget(self))  # type: ignore[attr-defined]

    def _load_form_data(self) -> None:
        super()._load_form_data()
        form = self.__dict__.get("form")
        if form is not None:
            self.__dict__["form"] = _cleaned(form)

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The JSON body with the same characters taken out of every string in it (keys included)."""
        return _clean_json(super().get_json(force=force, silent=silent, cache=cache))


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_json(v) for k, v in value.items()}
    return value


def _cleaned(values: MultiDict[str, str]) -> ImmutableMultiDict[str, str]:
    if not any(_needs_cleaning(v) for v in values.values()):
        return values  # type: ignore[return-value]
    return ImmutableMultiDict([(k, clean_text(v)) for k, v in values.items(multi=True)])


def local_target(target: str | None, fallback: str) -> str:
    """``target`` when it is a path on this site, else ``fallback``: a ``next`` value never leads elsewhere
    (``//host`` and ``/\\host`` are other sites to a browser)."""
    target = target or ""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target \
            and not any(ch in target for ch in "\r\n\t"):
        return target
    return fallback
