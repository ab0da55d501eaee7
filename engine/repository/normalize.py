"""Rewrite standard BPMN constructs SpiffWorkflow 3.2 does not parse into equivalent ones it does, on the XML
tree, before the library sees it (the stored file stays as the analyst drew it).

On a deep copy of the tree, in this order (each step may produce input for the next):

1. an event's ``eventDefinitionRef`` to an event definition (top-level, as BPMN has it) becomes an inline copy
   of it (the library reads only inline definitions: it took a referenced message start for a none start);
2. a call activity whose ``calledElement`` is a global task becomes that task in place (the library looks for
   a process of that id and refuses the file);
3. a link throw event gets a sequence flow to the catch event of its name in the same process level (the
   library ends the path at the throw and never reaches the catch);
4. an activity or intermediate event with several outgoing sequence flows gets a parallel gateway (all flows
   plain) or an inclusive gateway (some conditional) right after it (the library refuses the file).

Anything a step cannot rewrite unambiguously is left as it is, for validation or the library to refuse with the
element named. Ids added are fresh in the whole file. Modules: :mod:`.normalize_refs` (steps 1 and 2),
:mod:`.normalize_flows` (steps 3 and 4), :mod:`.normalize_links` (which link events pair up, for any check),
:mod:`.normalize_common` (ids, references, copies, lanes).
"""

from __future__ import annotations

import copy

from lxml import etree

from engine.repository.normalize_common import Ids
from engine.repository.normalize_flows import connect_links, split_outgoing
from engine.repository.normalize_refs import inline_event_definitions, inline_global_tasks


def normalized(tree: etree._ElementTree) -> etree._ElementTree:
    """A copy of ``tree`` rewritten for the library (``tree`` itself is left as it is)."""
    result = copy.deepcopy(tree)
    root = result.getroot()
    ids = Ids(root)
    inline_event_definitions(root, ids)
    inline_global_tasks(root, ids)
    connect_links(root, ids)
    split_outgoing(root, ids)
    return result
