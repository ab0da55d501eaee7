"""The BPMN parser the engine deploys with: SpiffWorkflow's, with the misreadings our layer fixes.

- A **signal end event** (BPMN 2.0.2 §10.5.3: "the signal is broadcast when the end event is reached") is
  parsed by SpiffWorkflow 3.2 as a none end event: the signal is silently never thrown, so a boundary event
  on the enclosing sub-process or a waiting instance never hears it. Our end-event parser reads it.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
)
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.event_parsers import SpiffEndEventParser


class EomsEndEventParser(SpiffEndEventParser):
    """End events with every trigger BPMN allows on them (signal included)."""

    def create_task(self):  # type: ignore[no-untyped-def]
        event_definition = self.get_event_definition(
            [MESSAGE_EVENT_XPATH, SIGNAL_EVENT_XPATH, CANCEL_EVENT_XPATH, ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH,
             TERMINATION_EVENT_XPATH])
        task = self._create_task(event_definition)
        task.connect(self.spec.end)
        return task


class EomsBpmnParser(SpiffBpmnParser):
    """SpiffWorkflow's spiff-flavoured parser with our corrections."""

    OVERRIDE_PARSER_CLASSES = {**SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
                               full_tag("endEvent"): (EomsEndEventParser, EndEvent)}
