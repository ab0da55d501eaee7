"""Shapes every TMF API shares (marshmallow): the polymorphism attributes (``@type``, ``@baseType``,
``@schemaLocation``) every resource may carry, unknown attributes refused, and the hub's listener."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

TEXT = validate.Length(max=2000)
NAME = validate.Length(min=1, max=200)


class Typed(Schema):
    """A TMF resource or sub-resource: unknown attributes are refused (400 naming them)."""

    class Meta:
        unknown = RAISE

    type_ = fields.String(data_key="@type", validate=NAME)
    base_type = fields.String(data_key="@baseType", validate=NAME)
    schema_location = fields.String(data_key="@schemaLocation", validate=validate.Length(max=500))


class HubInputSchema(Schema):
    class Meta:
        unknown = RAISE

    callback = fields.String(required=True, validate=[validate.Length(min=1, max=500),
                                                      validate.Regexp(r"^https?://[^\s/]+\S*$")],
                             metadata={"description": "absolute http(s) URL the events are POSTed to"})
    query = fields.String(allow_none=True, validate=validate.Length(max=500))


class HubSchema(Schema):
    id = fields.String(required=True)
    callback = fields.String(required=True)
    query = fields.String(allow_none=True)
