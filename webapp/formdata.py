"""Turning a posted form back into the nested data a form-js schema describes (the engine validates it): the
HTML fields the server renders (:func:`parse_form`), or the JSON the form-js viewer produced
(:func:`parse_form_json`, posted as ``form_json``); and what the viewer is given to show (:func:`viewer_schema`,
:func:`viewer_data`)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.forms.schema import VALUE_TYPES, fields
from webapp.security import clean_text

_INDEX = re.compile(r"^\[(\d+)\]\.")

FORM_JSON = "form_json"  # the hidden input forms.js writes the viewer's data into
MAX_FORM_JSON_BYTES = 256 * 1024

# code → (中文, English), chosen by the page's language like the engine's form problems
JSON_PROBLEMS: dict[str, tuple[str, str]] = {
    "too_large": ("表单数据过大（上限 {n} KB）", "the form data is too large (at most {n} KB)"),
    "malformed": ("表单数据无法读取（不是有效的 JSON）", "the form data cannot be read (not valid JSON)"),
    "not_object": ("表单数据格式不正确（应为 JSON 对象）",
                   "the form data has the wrong shape (a JSON object is expected)"),
}


class FormJsonError(ValueError):
    """``form_json`` could not be used; :meth:`text` says why in the page's language."""

    def __init__(self, code: str, **params: Any):
        super().__init__(JSON_PROBLEMS[code][1].format(**params))
        self.code = code
        self.params = params

    def text(self, lang: str) -> str:
        zh, en = JSON_PROBLEMS[self.code]
        return (zh if lang.startswith("zh") else en).format(**self.params)


def parse_form(components: list[dict[str, Any]], form: MultiDict[str, str], prefix: str = "") -> dict[str, Any]:
    """Values for every field of ``components`` found in ``form`` (names as the renderer writes them)."""
    data: dict[str, Any] = {}
    for c in components:
        kind = c.get("type")
        if kind == "group" and not c.get("path"):
            data.update(parse_form(c.get("components") or [], form, prefix))
            continue
        key = c.get("key") or c.get("path")
        if not key or kind not in VALUE_TYPES:
            continue
        name = f"{prefix}{key}"
        if kind == "dynamiclist":
            indexes = sorted({int(m.group(1)) for field in form
                              if field.startswith(name) and (m := _INDEX.match(field[len(name):]))})
            data[key] = [parse_form(c.get("components") or [], form, f"{name}[{i}].") for i in indexes]
        elif kind == "checkbox":
            data[key] = name in form
        elif kind in ("checklist", "taglist", "filepicker"):
            data[key] = form.getlist(name)
        elif name in form:
            data[key] = form.get(name, "")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_form_json(components: list[dict[str, Any]], raw: str) -> dict[str, Any]:
    """The viewer's data: a JSON object of at most :data:`MAX_FORM_JSON_BYTES`, keeping only the schema's
    fields (at every level of a dynamic list); anything else is :class:`FormJsonError`. The values are not
    checked here: the engine validates them as it validates the HTML fields."""
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_FORM_JSON_BYTES:
        raise FormJsonError("too_large", n=MAX_FORM_JSON_BYTES // 1024)
    try:
        data = _plain(json.loads(raw, parse_constant=_no_constant))  # NaN and Infinity are not JSON
    except FormJsonError:
        raise
    except (ValueError, RecursionError):
        raise FormJsonError("malformed") from None
    if not isinstance(data, dict):
        raise FormJsonError("not_object")
    return keep_fields(components, data)


def _plain(value: Any) -> Any:
    """``value`` with NUL characters and bidirectional-override controls taken out of its texts, as from every
    posted field (CleanRequest); a text
    with a lone surrogate (``"\\ud800"``) is no text at all."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FormJsonError("malformed") from None
        return clean_text(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def keep_fields(components: list[dict[str, Any]], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without what the schema does not declare (the rows of a dynamic list likewise; a row that is not
    an object is kept as it is, for the engine to refuse)."""
    kept: dict[str, Any] = {}
    for field in fields(components):
        if field.key not in data:
            continue
        value = data[field.key]
        if field.type == "dynamiclist" and isinstance(value, list):
            inner = field.component.get("components") or []
            value = [keep_fields(inner, row) if isinstance(row, dict) else row for row in value]
        kept[field.key] = value
    return kept


def file_fields(components: list[dict[str, Any]]) -> list[str]:
    """The keys of the filepicker fields of the top level of the data (uploads arrive as ``<key>__upload``)."""
    return [f.key for f in fields(components) if f.type == "filepicker"]


def file_accept(components: list[dict[str, Any]], key: str) -> Any:
    """The ``accept`` list of the top-level file field ``key`` (None when it names none)."""
    return next((f.component.get("accept") for f in fields(components) if f.type == "filepicker" and f.key == key),
                None)


def add_attachment(data: dict[str, Any], key: str, attachment_id: int) -> None:
    """Add an uploaded file to a filepicker field's value (a list of attachment ids)."""
    value = data.get(key)
    ids = value if isinstance(value, list) else ([] if value in (None, "") else [value])
    data[key] = [*ids, str(attachment_id)]


def viewer_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The schema the form-js viewer shows, or None when the page keeps the server's form.

    Filepicker fields are left out: the page keeps the server's own attachment choice and file input for them
    (uploads post with the form, as without JavaScript). A filepicker inside a dynamic list has no server upload,
    so such a form keeps the server's form. Keys and paths are spelled as form-js reads them (the server accepts
    either for any field), and a dynamic list repeats (the server reads a list of rows)."""
    if not schema or not isinstance(schema.get("components"), list):
        return None
    shown = copy.deepcopy(schema)

    def adapt(components: list[dict[str, Any]], in_list: bool) -> list[dict[str, Any]] | None:
        kept = []
        for c in components:
            kind = c.get("type")
            if kind == "filepicker":
                if in_list:
                    return None
                continue
            if kind == "dynamiclist":
                c.setdefault("path", c.get("key"))
                c.setdefault("isRepeating", True)
            elif kind in VALUE_TYPES and not c.get("key") and c.get("path"):
                c["key"] = c["path"]
            if isinstance(c.get("components"), list):
                inner = adapt(c["components"], in_list or kind == "dynamiclist")
                if inner is None:
                    return None
                c["components"] = inner
            kept.append(c)
        return kept

    components = adapt(shown["components"], False)
    if components is None:
        return None
    shown["components"] = components
    return shown


def viewer_data(schemas: Iterable[dict[str, Any] | None], *sources: dict[str, Any] | None) -> dict[str, Any]:
    """The values the viewer starts from: of ``sources`` (later ones win), only the top-level fields of the
    given schemas (the task's form and the other forms of its process, which conditions and texts may name);
    never the engine's own variables."""
    keys = {f.key for schema in schemas if schema for f in fields(schema.get("components") or [])}
    data: dict[str, Any] = {}
    for source in sources:
        data.update({k: v for k, v in (source or {}).items() if k in keys})
    return data
