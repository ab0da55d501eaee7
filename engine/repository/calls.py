"""Which processes a BPMN file defines and calls, so that a batch of files deploys callees before callers."""

from __future__ import annotations

from engine.errors import BpmnValidationError
from engine.repository.graph import NS
from engine.repository.xmlsafe import load_bpmn_xml


def defined_and_called(content: bytes, filename: str) -> tuple[set[str], set[str]]:
    """The process ids the file defines and the ones its call activities name (empty when it does not load)."""
    try:
        root = load_bpmn_xml(content, filename).getroot()
    except BpmnValidationError:
        return set(), set()
    defined = {p.get("id") for p in root.iterfind("bpmn:process", NS) if p.get("id")}
    called = {(c.get("calledElement") or "").strip() for c in root.iter(f"{{{NS['bpmn']}}}callActivity")}
    return defined, called - defined - {""}


def in_call_order(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """``files`` (name, content) with every file after the files defining the processes it calls; the given
    order is kept otherwise (a cycle or an unknown callee leaves the file where it is)."""
    info = [defined_and_called(content, name) for name, content in files]
    defined_by = {pid: i for i, (defined, _) in enumerate(info) for pid in defined}
    ordered: list[int] = []
    state: dict[int, str] = {}

    def visit(i: int) -> None:
        if state.get(i):
            return
        state[i] = "visiting"
        for pid in sorted(info[i][1]):
            j = defined_by.get(pid)
            if j is not None and j != i and state.get(j) != "visiting":
                visit(j)
        state[i] = "done"
        ordered.append(i)

    for i in range(len(files)):
        visit(i)
    return [files[i] for i in ordered]


def processes_of(files: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """Process id → the content of the file that defines it."""
    return {pid: content for name, content in files for pid in defined_and_called(content, name)[0]}

