"""Load untrusted YAML (recipes) within a fixed budget: no alias bomb, no deep nesting, no crash.

`yaml.safe_load` shares aliased nodes, so a 10-line "billion laughs" file loads at once, but every walk over the
result (secret scan, pydantic) then visits 10^9 nodes; libyaml's composer recurses in C and segfaults on a
1 MiB `[[[[…` file. Here libyaml only parses events (fast, iterative) and PyYAML's own Composer builds the nodes,
counting as it goes: each node once, each alias as the full size of what it stands for, and the nesting depth
with aliases expanded. Past a budget the load stops with a `yaml.MarkedYAMLError` at the offending line, so any
file is accepted or refused in time proportional to the budget (docs/reliability.md has the figures).
"""

from __future__ import annotations

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.resolver import Resolver

MAX_NODES = 10_000  # nodes once aliases are expanded; the largest shipped recipe (micro) has 539
MAX_DEPTH = 64  # nesting levels, aliases expanded; recipes nest about 6 deep

try:  # libyaml's event parser (C, iterative); the pure-Python one gives the same events, slower
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser):
        def __init__(self, text):
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)


class YAMLBudgetError(yaml.MarkedYAMLError):
    """The document is over the node or depth budget (or aliases itself); names the line where it went over."""


class _CountingComposer(Composer):
    def __init__(self):
        super().__init__()
        self._nodes = 0
        self._depth = 0
        self._deepest = 0
        self._size: dict[int, int] = {}  # id(node) -> expanded node count of its subtree
        self._height: dict[int, int] = {}  # id(node) -> expanded height of its subtree

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._size:
                raise YAMLBudgetError(None, None, f"alias *{event.anchor} is used inside its own anchor",
                                      event.start_mark)
            node = super().compose_node(parent, index)  # raises PyYAML's own error for an undefined alias
            self._charge(self._size[id(node)], self._depth + self._height[id(node)], event.start_mark)
            return node
        start, outer_deepest = self._nodes, self._deepest
        self._depth += 1
        self._deepest = self._depth
        self._charge(1, self._depth, event.start_mark)
        node = super().compose_node(parent, index)
        self._size[id(node)] = self._nodes - start
        self._height[id(node)] = self._deepest - self._depth + 1
        self._depth -= 1
        self._deepest = max(outer_deepest, self._deepest)
        return node

    def _charge(self, nodes: int, depth: int, mark) -> None:
        self._nodes += nodes
        self._deepest = max(self._deepest, depth)
        if self._nodes > MAX_NODES:
            raise YAMLBudgetError(None, None, f"more than {MAX_NODES:,} nodes once aliases are expanded "
                                  "(a recipe has a few hundred)", mark)
        if depth > MAX_DEPTH:
            raise YAMLBudgetError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)


class BoundedSafeLoader(_CountingComposer, _Parser, SafeConstructor, Resolver):
    """yaml.SafeLoader's tags and constructors, with the composer's budget."""

    def __init__(self, text: str):
        _Parser.__init__(self, text)
        _CountingComposer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


def load(text: str):
    """`yaml.safe_load(text)` within the budget; raises yaml.YAMLError (YAMLBudgetError when over it)."""
    return BoundedSafeLoader(text).get_single_data()
