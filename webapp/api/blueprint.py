"""A blueprint of the API whose routes describe themselves: each operation is declared once with its scope,
request and response schemas and statuses, and that declaration both registers the Flask route and feeds the
OpenAPI document (``webapp/api/openapi.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from marshmallow import Schema

from webapp.api import base


@dataclass(frozen=True)
class Param:
    """A query or path parameter as OpenAPI names it."""

    name: str
    where: str = "query"  # query | path
    kind: str = "string"  # string | integer | boolean
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] = ()
    fmt: str = ""


@dataclass(frozen=True)
class Operation:
    blueprint: str
    rule: str  # Flask's, e.g. /serviceOrder/<order_id>
    method: str
    endpoint: str
    summary: str
    tag: str
    scope: str
    request: type[Schema] | None = None
    response: type[Schema] | None = None
    many: bool = False
    statuses: tuple[int, ...] = (200,)
    params: tuple[Param, ...] = ()
    description: str = ""
    paged: bool = False


class ApiBlueprint(Blueprint):
    """``Blueprint`` plus :meth:`operation`; every request through it is authenticated (``webapp.api.base``)."""

    def __init__(self, name: str, import_name: str, url_prefix: str, tag: str):
        Blueprint.__init__(self, name, import_name, url_prefix=url_prefix)
        self.operations: list[Operation] = []
        self.tag = tag
        base.init_blueprint(self)

    def operation(self, rule: str, method: str, *, summary: str, scope: str, request: type[Schema] | None = None,
                  response: type[Schema] | None = None, many: bool = False, statuses: tuple[int, ...] = (200,),
                  params: tuple[Param, ...] = (), description: str = "", paged: bool = False,
                  tag: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            endpoint = view.__name__
            self.operations.append(Operation(
                self.name, rule, method.upper(), endpoint, summary, tag or self.tag, scope, request, response, many,
                statuses, params, description or (view.__doc__ or "").strip(), paged))
            self.add_url_rule(rule, endpoint=endpoint, view_func=base.scope(scope)(view), methods=[method.upper()])
            return view
        return decorate
