"""TMF621 Trouble Ticket v4 shapes (marshmallow): what a client may send, and what it gets back.

Names follow the TMF621 v4.0.0 specification. Three attributes are an EOMS extension (TMF630's extension
pattern: a subclass may add attributes; send ``@type: EomsTroubleTicket`` with ``@baseType: TroubleTicket`` if
your client checks): ``region``, ``serviceType`` and ``vip`` — what 售后故障 needs to route the fault and that
TMF621 has no attribute for. Requests refuse attributes not allowed at that point (``id``, ``status``,
``statusChange`` … on create; everything but the patchable ones on PATCH)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from handlers.tmf.troubleticket import STATUSES
from webapp.api.tmf641.schemas import NoteSchema
from webapp.api.tmf_shapes import NAME, TEXT
from webapp.api.tmf_shapes import Typed as _Typed

URL = validate.Length(max=500)
SEVERITY = "Critical (priority 紧急), Major (高) or Minor (一般)"
PRIORITY = "Critical (紧急), High (高), Medium or Low (一般); absent: from the severity"
TICKET_TYPE = "the kind of fault: outage (中断), degradation (劣化), intermittent (闪断) or other (其他)"


class MediumCharacteristicSchema(_Typed):
    phone_number = fields.String(data_key="phoneNumber", validate=validate.Length(min=1, max=20))
    email_address = fields.String(data_key="emailAddress", validate=validate.Length(max=200))
    contact_type = fields.String(data_key="contactType", validate=NAME)


class ContactMediumSchema(_Typed):
    """As TMF632 Party has it: the customer's phone is ``characteristic.phoneNumber``."""

    medium_type = fields.String(data_key="mediumType", validate=NAME,
                                metadata={"description": "mobile, phone, email …"})
    preferred = fields.Boolean()
    characteristic = fields.Nested(MediumCharacteristicSchema, required=True)


class TicketRelatedPartySchema(_Typed):
    id = fields.String(required=True, validate=NAME)
    href = fields.String(validate=URL)
    name = fields.String(validate=NAME, metadata={"description": "the customer's name for role customer"})
    role = fields.String(validate=NAME, metadata={"description": "customer (required once), or any other role"})
    referred_type = fields.String(data_key="@referredType", required=True, validate=NAME)
    contact_medium = fields.List(fields.Nested(ContactMediumSchema), data_key="contactMedium",
                                 validate=validate.Length(max=10), metadata={
                                     "description": "role customer: the customer's phone, the first "
                                                    "characteristic.phoneNumber (a preferred medium first) — "
                                                    "a mobile 1xxxxxxxxxx or a landline 0xx-xxxxxxxx"})


class TicketRelatedEntitySchema(_Typed):
    id = fields.String(required=True, validate=NAME, metadata={
        "description": "role circuit: the circuit or service number (电路编号或业务号码), at most 60 characters"})
    href = fields.String(validate=URL)
    name = fields.String(validate=NAME)
    role = fields.String(required=True, validate=NAME, metadata={"description": "circuit (required once), or any"})
    referred_type = fields.String(data_key="@referredType", required=True, validate=NAME,
                                  metadata={"description": "e.g. Service or Resource"})


class TicketChannelSchema(_Typed):
    id = fields.String(validate=NAME)
    href = fields.String(validate=URL)
    name = fields.String(validate=NAME, metadata={"description": "e.g. 10000号客服热线"})
    referred_type = fields.String(data_key="@referredType", validate=NAME)


class TicketQuantitySchema(Schema):
    class Meta:
        unknown = RAISE

    amount = fields.Float()
    units = fields.String(validate=NAME)


class TicketAttachmentRefSchema(_Typed):
    """A document by reference (``url``); the content itself is not taken — it is kept as a 批注 naming the url."""

    id = fields.String(validate=NAME)
    href = fields.String(validate=URL)
    url = fields.String(required=True, validate=[URL, validate.Regexp(r"^https?://\S+$")])
    name = fields.String(validate=NAME)
    description = fields.String(validate=TEXT)
    attachment_type = fields.String(data_key="attachmentType", validate=NAME)
    mime_type = fields.String(data_key="mimeType", validate=NAME)
    size = fields.Nested(TicketQuantitySchema)
    referred_type = fields.String(data_key="@referredType", validate=NAME)


class TroubleTicketCreateSchema(_Typed):
    """What the call centre sends to report a fault (starts 售后故障): ``externalId`` is its ticket number (the
    same number again finds the same ticket), ``relatedParty`` role customer names the customer and carries
    the phone, ``relatedEntity`` role circuit the circuit; ``region`` and ``serviceType`` (EOMS extension)
    route it."""

    external_id = fields.String(data_key="externalId", validate=validate.Length(min=1, max=100),
                                metadata={"description": "the call centre's ticket number"})
    name = fields.String(validate=NAME)
    description = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    severity = fields.String(required=True, validate=NAME, metadata={"description": SEVERITY})
    priority = fields.String(validate=NAME, metadata={"description": PRIORITY})
    ticket_type = fields.String(data_key="ticketType", required=True, validate=NAME,
                                metadata={"description": TICKET_TYPE})
    requested_resolution_date = fields.DateTime(data_key="requestedResolutionDate")
    channel = fields.Nested(TicketChannelSchema)
    related_party = fields.List(fields.Nested(TicketRelatedPartySchema), data_key="relatedParty",
                                validate=validate.Length(max=20))
    related_entity = fields.List(fields.Nested(TicketRelatedEntitySchema), data_key="relatedEntity",
                                 validate=validate.Length(max=20))
    note = fields.List(fields.Nested(NoteSchema), validate=validate.Length(max=50),
                       metadata={"description": "each becomes a 批注 on 故障受理"})
    attachment = fields.List(fields.Nested(TicketAttachmentRefSchema), validate=validate.Length(max=20))
    region = fields.String(validate=NAME, metadata={
        "description": "EOMS extension: the area of the fault, GZ, SZ or DG (the work order's unit)"})
    service_type = fields.String(data_key="serviceType", validate=NAME, metadata={
        "description": "EOMS extension: 专线, 互联网 or 语音"})
    vip = fields.Boolean(metadata={"description": "EOMS extension: a VIP customer (shorter time limits)"})


class TroubleTicketUpdateSchema(_Typed):
    """What may change while the ticket is open; notes and attachment references are added (each becomes a 批注
    on the open steps). ``status`` is the flow's business and is refused."""

    name = fields.String(validate=NAME)
    description = fields.String(validate=validate.Length(min=1, max=2000))
    priority = fields.String(validate=NAME, metadata={"description": PRIORITY})
    requested_resolution_date = fields.DateTime(data_key="requestedResolutionDate")
    note = fields.List(fields.Nested(NoteSchema), validate=validate.Length(max=20))
    attachment = fields.List(fields.Nested(TicketAttachmentRefSchema), validate=validate.Length(max=20))


class TicketAttachmentSchema(TicketAttachmentRefSchema):
    url = fields.String()


class TicketStatusChangeSchema(_Typed):
    status = fields.String(validate=validate.OneOf(STATUSES))
    change_date = fields.String(data_key="changeDate", metadata={"format": "date-time"})
    change_reason = fields.String(data_key="changeReason")


class TroubleTicketSchema(_Typed):
    """A 售后故障 work order as EOMS reports it."""

    id = fields.String(required=True, metadata={"description": "the work order number"})
    href = fields.String(required=True)
    external_id = fields.String(data_key="externalId")
    name = fields.String()
    description = fields.String()
    severity = fields.String()
    priority = fields.String()
    ticket_type = fields.String(data_key="ticketType")
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    status_change_date = fields.String(data_key="statusChangeDate", metadata={"format": "date-time"})
    status_change_reason = fields.String(data_key="statusChangeReason")
    creation_date = fields.String(data_key="creationDate", metadata={"format": "date-time"})
    last_update = fields.String(data_key="lastUpdate", metadata={"format": "date-time"})
    requested_resolution_date = fields.String(data_key="requestedResolutionDate", metadata={"format": "date-time"})
    expected_resolution_date = fields.String(data_key="expectedResolutionDate", metadata={
        "format": "date-time", "description": "the open step's time limit"})
    resolution_date = fields.String(data_key="resolutionDate", metadata={
        "format": "date-time", "description": "when 恢复回单 was done"})
    channel = fields.Nested(TicketChannelSchema)
    related_party = fields.List(fields.Nested(TicketRelatedPartySchema), data_key="relatedParty")
    related_entity = fields.List(fields.Nested(TicketRelatedEntitySchema), data_key="relatedEntity")
    note = fields.List(fields.Nested(NoteSchema), metadata={
        "description": "the client's notes, then the 批注 others wrote on the order's steps"})
    attachment = fields.List(fields.Nested(TicketAttachmentSchema), metadata={
        "description": "the client's references, then the files uploaded to the order (故障处理报告 …)"})
    status_change = fields.List(fields.Nested(TicketStatusChangeSchema), data_key="statusChange",
                                metadata={"description": "every change of status, oldest first"})
    region = fields.String()
    service_type = fields.String(data_key="serviceType")
    vip = fields.Boolean()
