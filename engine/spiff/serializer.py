"""Serialization of process specs (once per deployed version) and of instance state without the spec.

SpiffWorkflow embeds the whole process spec in every serialized workflow. EOMS stores each version's spec once
(on the definition row) and keeps only the running state on the instance row; :class:`WorkflowCodec` restores
an instance from that state plus the cached spec.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.errors import Code, EomsError
from engine.spiff.data_mapping import SERIALIZER_CONFIG as DATA_MAPPING_CONFIG

STATE_FORMAT = f"eoms-state/{VERSION}"

SpecBundle = tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Converts a top-level workflow to its running state only; the spec is supplied on restore."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: BpmnProcessSpec | None = None,
                  subprocess_specs: dict[str, BpmnProcessSpec] | None = None) -> BpmnWorkflow:
        if spec is None:
            raise EomsError("restoring an instance needs its process spec", code=Code.STATE_CORRUPT)
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class WorkflowCodec:
    """Turns specs and instance state into strings for the database and back."""

    def __init__(self) -> None:
        spec_config = {**SPIFF_CONFIG, **DATA_MAPPING_CONFIG}
        self._spec_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(spec_config))
        state_config = dict(spec_config)
        state_config[BpmnWorkflow] = StateOnlyWorkflowConverter
        self._state_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(state_config))

    @property
    def spec_registry(self) -> Any:
        """The converter registry of specs (what SpiffWorkflow's spec diff compares with)."""
        return self._spec_serializer.registry

    def dump_spec(self, spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]) -> str:
        """The JSON text of a parsed spec and the specs of its subprocesses and call activities."""
        registry = self._spec_serializer.registry
        return json.dumps(
            {
                "format": STATE_FORMAT,
                "spec": registry.convert(spec),
                "subprocess_specs": {name: registry.convert(s) for name, s in subprocess_specs.items()},
            },
            ensure_ascii=False,
        )

    def load_spec(self, text: str) -> SpecBundle:
        """Restore what :meth:`dump_spec` wrote."""
        dct = json.loads(text)
        registry = self._spec_serializer.registry
        spec = registry.restore(dct["spec"])
        subs = {name: registry.restore(s) for name, s in dct["subprocess_specs"].items()}
        return spec, subs

    def dump_state(self, workflow: BpmnWorkflow) -> str:
        """The running state of ``workflow`` as JSON, without its spec."""
        return self._state_serializer.serialize_json(workflow)

    def load_state(self, text: str, bundle: SpecBundle) -> BpmnWorkflow:
        """Restore an instance from its state and its (cached) spec bundle."""
        dct = json.loads(text)
        version = dct.pop(BpmnWorkflowSerializer.VERSION_KEY, None)
        if version != VERSION:
            raise EomsError(
                f"instance state has serializer format {version!r}; this engine reads {VERSION!r} only",
                code=Code.STATE_CORRUPT)
        spec, subprocess_specs = bundle
        return self._state_serializer.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
