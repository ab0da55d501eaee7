"""Write processes/*.bpmn and processes/forms/*.json from tools/flows_def.py and tools/forms_def.py.

    python -m tools.build_processes
"""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree

from tools.flowgen import to_bpmn
from tools.flows_def import FLOWS
from tools.forms_def import FORMS

ROOT = Path(__file__).resolve().parent.parent / "processes"


def main() -> None:
    (ROOT / "forms").mkdir(parents=True, exist_ok=True)
    for key, schema in FORMS.items():
        (ROOT / "forms" / f"{key}.json").write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n",
                                                     encoding="utf-8")
    for flow in FLOWS:
        tree = etree.fromstring(to_bpmn(flow).encode())
        etree.indent(tree, space="  ")
        xml = etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        (ROOT / f"{flow.id}.bpmn").write_bytes(xml)
    print(f"wrote {len(FORMS)} forms and {len(FLOWS)} diagrams to {ROOT}")


if __name__ == "__main__":
    main()
