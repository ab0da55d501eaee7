"""TMF642 Alarm Management v4 shapes (marshmallow). The specification leaves alarmType, perceivedSeverity and
state as strings; EOMS takes the X.733 values (any case) and answers them in lowerCamel / lower case."""

from __future__ import annotations

from marshmallow import RAISE, ValidationError, fields, validate

from handlers.tmf.alarm import ALARM_TYPES, SEVERITIES, STATES
from webapp.api.tmf_shapes import NAME, TEXT
from webapp.api.tmf_shapes import Typed as _Typed


def normal(value: str) -> str:
    """The comparable form of an X.733 value: ``QUALITY_OF_SERVICE_ALARM``, ``Quality of Service Alarm`` and
    ``qualityOfServiceAlarm`` are one."""
    return value.replace("_", "").replace(" ", "").lower()


class _AnyCase(validate.Validator):
    """One of ``choices``, written in any of the usual cases."""

    def __init__(self, choices: tuple[str, ...]):
        self.choices, self.keys = choices, {normal(c) for c in choices}

    def __call__(self, value: str) -> str:
        if normal(value) not in self.keys:
            raise ValidationError(f"one of {', '.join(self.choices)}")
        return value


def _one_of(values: tuple[str, ...]) -> validate.Validator:
    return _AnyCase(values)


class AlarmedObjectSchema(_Typed):
    id = fields.String(required=True, validate=NAME, metadata={"description": "the circuit id, for circuits"})
    href = fields.String(validate=validate.Length(max=500))
    referred_type = fields.String(data_key="@referredType", validate=NAME)


class CommentSchema(_Typed):
    comment = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    system_id = fields.String(data_key="systemId", validate=NAME)
    user_id = fields.String(data_key="userId", validate=NAME)
    time = fields.DateTime()


class AlarmRefSchema(_Typed):
    id = fields.String(required=True, validate=NAME)
    href = fields.String(validate=validate.Length(max=500))
    name = fields.String(validate=NAME)
    role = fields.String(validate=NAME)
    referred_type = fields.String(data_key="@referredType", validate=NAME)


class _AlarmFields(_Typed):
    external_alarm_id = fields.String(data_key="externalAlarmId", validate=validate.Length(min=1, max=100),
                                      metadata={"description": "the sender's id: the same id again is a repeat"})
    alarm_type = fields.String(data_key="alarmType", validate=_one_of(ALARM_TYPES))
    perceived_severity = fields.String(data_key="perceivedSeverity", validate=_one_of(SEVERITIES))
    probable_cause = fields.String(data_key="probableCause", validate=NAME)
    specific_problem = fields.String(data_key="specificProblem", validate=NAME)
    alarmed_object = fields.Nested(AlarmedObjectSchema, data_key="alarmedObject")
    alarmed_object_type = fields.String(data_key="alarmedObjectType", validate=NAME)
    state = fields.String(validate=_one_of(STATES))
    alarm_raised_time = fields.DateTime(data_key="alarmRaisedTime")
    alarm_changed_time = fields.DateTime(data_key="alarmChangedTime")
    alarm_cleared_time = fields.DateTime(data_key="alarmClearedTime")
    alarm_details = fields.String(data_key="alarmDetails", validate=TEXT)
    service_affecting = fields.Boolean(data_key="serviceAffecting")
    is_root_cause = fields.Boolean(data_key="isRootCause")
    reporting_system_id = fields.String(data_key="reportingSystemId", validate=NAME)
    proposed_repaired_actions = fields.String(data_key="proposedRepairedActions", validate=TEXT)
    planned_outage_indicator = fields.String(data_key="plannedOutageIndicator",
                                             validate=validate.OneOf(("inService", "outOfService", "IN_SERVICE",
                                                                      "OUT_OF_SERVICE")))
    ack_state = fields.String(data_key="ackState", validate=validate.OneOf(
        ("acknowledged", "unacknowledged", "ACKNOWLEDGED", "UNACKNOWLEDGED")))
    comment = fields.List(fields.Nested(CommentSchema), validate=validate.Length(max=50))
    affected_service = fields.List(fields.Nested(AlarmRefSchema), data_key="affectedService",
                                   validate=validate.Length(max=20))


class AlarmCreateSchema(_AlarmFields):
    """A network manager's alarm; required as TMF642 requires them."""

    class Meta:
        unknown = RAISE

    alarm_type = fields.String(data_key="alarmType", required=True, validate=_one_of(ALARM_TYPES))
    perceived_severity = fields.String(data_key="perceivedSeverity", required=True, validate=_one_of(SEVERITIES))
    probable_cause = fields.String(data_key="probableCause", required=True, validate=NAME)
    alarmed_object = fields.Nested(AlarmedObjectSchema, data_key="alarmedObject", required=True)
    source_system_id = fields.String(data_key="sourceSystemId", required=True, validate=NAME)
    state = fields.String(required=True, validate=_one_of(STATES))
    alarm_raised_time = fields.DateTime(data_key="alarmRaisedTime", required=True)


class AlarmUpdateSchema(_AlarmFields):
    """Everything but id, href, alarmRaisedTime and sourceSystemId may change; a clear (state cleared or an
    alarmClearedTime) adds a note to the linked ticket."""


class AlarmSchema(_AlarmFields):
    id = fields.String(required=True)
    href = fields.String(required=True)
    source_system_id = fields.String(data_key="sourceSystemId")
    alarm_reporting_time = fields.String(data_key="alarmReportingTime", metadata={"format": "date-time"})
    alarm_raised_time = fields.String(data_key="alarmRaisedTime", metadata={"format": "date-time"})
    alarm_changed_time = fields.String(data_key="alarmChangedTime", metadata={"format": "date-time"})
    alarm_cleared_time = fields.String(data_key="alarmClearedTime", metadata={"format": "date-time"})
    related_entity = fields.List(fields.Nested(AlarmRefSchema), data_key="relatedEntity",
                                 metadata={"description": "the trouble ticket the alarm opened or was correlated to"})
