"""TMF641 Service Ordering v4 shapes (marshmallow): what a client may send, and what it gets back.

Names and enumerations follow the TMF641 v4.1 specification; requests refuse attributes the specification
does not allow at that point (``id``, ``state``, ``milestone`` … on create; the non-patchable ones on PATCH)."""

from __future__ import annotations

from marshmallow import fields, validate

from handlers.tmf.serviceorder import ACTIONS, STATES
from webapp.api.tmf_shapes import NAME, TEXT
from webapp.api.tmf_shapes import Typed as _Typed


class RelatedPartySchema(_Typed):
    id = fields.String(required=True, validate=NAME)
    href = fields.String(validate=validate.Length(max=500))
    name = fields.String(validate=NAME, metadata={"description": "the customer's name for role customer"})
    role = fields.String(validate=NAME, metadata={"description": "customer (required once), or any other role"})
    referred_type = fields.String(data_key="@referredType", required=True, validate=NAME)


class NoteSchema(_Typed):
    id = fields.String(validate=NAME)
    author = fields.String(validate=NAME)
    date = fields.DateTime()
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CharacteristicSchema(_Typed):
    id = fields.String(validate=NAME)
    name = fields.String(required=True, validate=NAME, metadata={
        "description": "region, serviceType, bandwidth, aEndAddress, zEndAddress; the allocated port, vlan, ip "
                       "in answers"})
    value_type = fields.String(data_key="valueType", validate=NAME)
    value = fields.Raw(required=True)


class RefSchema(_Typed):
    id = fields.String(required=True, validate=NAME)
    href = fields.String(validate=validate.Length(max=500))
    name = fields.String(validate=NAME)
    version = fields.String(validate=NAME)
    referred_type = fields.String(data_key="@referredType", validate=NAME)


class ServiceSchema(_Typed):
    id = fields.String(validate=NAME)
    href = fields.String(validate=validate.Length(max=500))
    name = fields.String(validate=NAME)
    category = fields.String(validate=NAME)
    description = fields.String(validate=TEXT)
    service_type = fields.String(data_key="serviceType", validate=NAME)
    state = fields.String(validate=validate.OneOf(
        ("feasibilityChecked", "designed", "reserved", "inactive", "active", "terminated")))
    service_characteristic = fields.List(fields.Nested(CharacteristicSchema), data_key="serviceCharacteristic",
                                         validate=validate.Length(max=50))
    service_specification = fields.Nested(RefSchema, data_key="serviceSpecification")
    referred_type = fields.String(data_key="@referredType", validate=NAME)


class ServiceOrderItemSchema(_Typed):
    id = fields.String(required=True, validate=NAME)
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    quantity = fields.Integer(validate=validate.Range(min=1, max=1))
    service = fields.Nested(ServiceSchema, required=True)
    state = fields.String(validate=validate.OneOf(STATES), metadata={"description": "answers only"})


class ExternalReferenceSchema(_Typed):
    id = fields.String(validate=NAME)
    href = fields.String(validate=validate.Length(max=500))
    name = fields.String(required=True, validate=NAME)
    external_reference_type = fields.String(data_key="externalReferenceType", validate=NAME)


class ServiceOrderCreateSchema(_Typed):
    """What CRM sends to open a 服务开通 order: ``externalId`` is its order number (the same number again finds
    the same order), ``relatedParty`` names the customer (role customer), ``notificationContact`` the
    customer's phone, one ``serviceOrderItem`` the service with its characteristics."""

    external_id = fields.String(data_key="externalId", required=True, validate=validate.Length(min=1, max=100))
    description = fields.String(validate=TEXT)
    category = fields.String(validate=NAME)
    priority = fields.String(validate=validate.Length(max=20))
    notification_contact = fields.String(data_key="notificationContact", validate=validate.Length(max=100))
    requested_start_date = fields.DateTime(data_key="requestedStartDate")
    requested_completion_date = fields.DateTime(data_key="requestedCompletionDate")
    related_party = fields.List(fields.Nested(RelatedPartySchema), data_key="relatedParty",
                                validate=validate.Length(max=20))
    note = fields.List(fields.Nested(NoteSchema), validate=validate.Length(max=50))
    external_reference = fields.List(fields.Nested(ExternalReferenceSchema), data_key="externalReference",
                                     validate=validate.Length(max=20))
    service_order_item = fields.List(fields.Nested(ServiceOrderItemSchema), data_key="serviceOrderItem",
                                     required=True, validate=validate.Length(min=1, max=20))


class ServiceOrderUpdateSchema(_Typed):
    """What may change while the order runs; notes are added (each becomes a 批注 on the open steps)."""

    description = fields.String(validate=TEXT)
    priority = fields.String(validate=validate.Length(max=20))
    notification_contact = fields.String(data_key="notificationContact", validate=validate.Length(max=100))
    requested_start_date = fields.DateTime(data_key="requestedStartDate")
    requested_completion_date = fields.DateTime(data_key="requestedCompletionDate")
    note = fields.List(fields.Nested(NoteSchema), validate=validate.Length(max=20))


class MilestoneSchema(_Typed):
    id = fields.String()
    name = fields.String()
    description = fields.String()
    message = fields.String()
    milestone_date = fields.String(data_key="milestoneDate", metadata={"format": "date-time"})
    status = fields.String()


class JeopardyAlertSchema(_Typed):
    id = fields.String()
    name = fields.String(metadata={"description": "warning | overdue"})
    alert_date = fields.String(data_key="alertDate", metadata={"format": "date-time"})
    jeopardy_type = fields.String(data_key="jeopardyType")
    exception = fields.String()
    message = fields.String()


class ServiceOrderSchema(_Typed):
    """A 服务开通 order as EOMS reports it."""

    id = fields.String(required=True, metadata={"description": "the work order number"})
    href = fields.String(required=True)
    external_id = fields.String(data_key="externalId")
    description = fields.String()
    category = fields.String()
    priority = fields.String()
    notification_contact = fields.String(data_key="notificationContact")
    order_date = fields.String(data_key="orderDate", metadata={"format": "date-time"})
    start_date = fields.String(data_key="startDate", metadata={"format": "date-time"})
    completion_date = fields.String(data_key="completionDate", metadata={"format": "date-time"})
    requested_start_date = fields.String(data_key="requestedStartDate", metadata={"format": "date-time"})
    requested_completion_date = fields.String(data_key="requestedCompletionDate", metadata={"format": "date-time"})
    cancellation_date = fields.String(data_key="cancellationDate", metadata={"format": "date-time"})
    cancellation_reason = fields.String(data_key="cancellationReason")
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    related_party = fields.List(fields.Nested(RelatedPartySchema), data_key="relatedParty")
    note = fields.List(fields.Nested(NoteSchema))
    service_order_item = fields.List(fields.Nested(ServiceOrderItemSchema), data_key="serviceOrderItem")
    milestone = fields.List(fields.Nested(MilestoneSchema))
    jeopardy_alert = fields.List(fields.Nested(JeopardyAlertSchema), data_key="jeopardyAlert")


class CancelServiceOrderCreateSchema(_Typed):
    service_order = fields.Nested(RefSchema, data_key="serviceOrder", required=True)
    cancellation_reason = fields.String(data_key="cancellationReason", validate=validate.Length(min=1, max=500))
    requested_cancellation_date = fields.DateTime(data_key="requestedCancellationDate")


class CancelServiceOrderSchema(_Typed):
    id = fields.String(required=True)
    href = fields.String(required=True)
    cancellation_reason = fields.String(data_key="cancellationReason")
    effective_cancellation_date = fields.String(data_key="effectiveCancellationDate",
                                                metadata={"format": "date-time"})
    requested_cancellation_date = fields.String(data_key="requestedCancellationDate",
                                                metadata={"format": "date-time"})
    state = fields.String(validate=validate.OneOf(("accepted", "terminatedWithError", "inProgress", "done")))
    service_order = fields.Nested(RefSchema, data_key="serviceOrder")
