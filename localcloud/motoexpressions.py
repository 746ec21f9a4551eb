"""moto's DynamoDB expression handling with the same answers for less CPU, patched into our moto server.

A py-spy profile of the DynamoDB moto at 20 orders/s (`--gil`, moto 5.2.5, docs/benchmarks.md) put a
fifth of its CPU in validating UpdateExpressions and a tenth in parsing ConditionExpressions:
- the validator walks the whole expression tree once per check (ten checks), and each visit asked the
  check for its node classes by building a dict and a tuple (`nodes_to_be_processed`, `process`): a
  check's map is the same for every instance of its class (node classes to its own methods), so it
  is built once per class;
  the walk itself visits the same nodes in the same order without a call per string leaf or per
  no-op hook;
- two of the checks (at most one clause of each kind, no overlapping paths) run on every
  UpdateExpression node of the tree, and nearly every node is one, each collecting the clauses below
  it: quadratic in the expression's length. The root's clauses include every other node's, so when
  the root passes they all do and the walk is skipped; when it fails, moto's own walk runs, so the
  error is the one moto raises;
- the validator deep-copies the parsed tree before changing it; `copy.deepcopy` is generic, and a
  tree of moto's nodes and strings is cloned here for a fraction of its cost (anything else found in
  the tree is left to `copy.deepcopy`);
- a ConditionExpression's tokens depend on its text alone and the guarded writes send a handful of
  texts: each is tokenised once (the tokens are rebuilt per call, as moto builds them).
If moto's internals no longer look as expected, a patch is skipped with a warning.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections import deque
from typing import Any

from moto.dynamodb import comparisons as dynamodb_comparisons
from moto.dynamodb.parsing import ast_nodes as dynamodb_ast
from moto.dynamodb.parsing import validators as dynamodb_validators

# moto's expression tree module declares no types; its classes are read by name.
_Node: Any = vars(dynamodb_ast).get("Node")
_Traverser: Any = vars(dynamodb_ast).get("DepthFirstTraverser")
_UpdateExpression: Any = vars(dynamodb_ast).get("UpdateExpression")


# A check's processing map per class, as functions: a map kept on the instance would hold bound
# methods of the instance (a reference cycle per request, freed only by the cyclic collector, and
# kept for good if a gc.freeze, see motospeed, came while it was in flight). None: a class whose map
# is not made of its own methods, left to moto's own accessors.
_maps: dict[type, dict[type, Any] | None] = {}
_types: dict[type, tuple[type, ...]] = {}


def _class_map(check: Any) -> dict[type, Any] | None:
    cls = type(check)
    if cls not in _maps:
        bound = check._processing_map()
        own = all(getattr(m, "__self__", None) is check for m in bound.values())
        _maps[cls] = {k: m.__func__ for k, m in bound.items()} if own else None
    return _maps[cls]


def memoise_processing_maps() -> bool:
    traverser = _Traverser
    if traverser is None or not all(
        hasattr(traverser, name) for name in ("_processing_map", "nodes_to_be_processed", "process")
    ):
        warnings.warn("moto's expression traverser changed; left as it is", stacklevel=2)
        return False
    types_of, process_by = traverser.nodes_to_be_processed, traverser.process

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        found = _class_map(self)
        if found is None:
            return types_of(self)  # type: ignore[no-any-return]
        cls = type(self)
        if cls not in _types:
            _types[cls] = tuple(found)
        return _types[cls]

    def process(self: Any, node: Any) -> Any:
        found = _class_map(self)
        if found is None:
            return process_by(self, node)
        for class_key, function in found.items():
            if isinstance(node, class_key):
                return function(self, node)
        return None

    setattr(traverser, "nodes_to_be_processed", nodes_to_be_processed)  # noqa: B010
    setattr(traverser, "process", process)  # noqa: B010
    return True


def _visit(node: Any, child_id: int, types: tuple[type, ...], pre: Any, process: Any) -> Any:
    # A module function, not a closure: a closure calling itself is a reference cycle, and this one
    # would hold the check (and through it the item) until the cyclic collector came by.
    parent_node = node.parent
    children = node.children
    if children is not None:
        for i, child in enumerate(children):
            if pre is not None:
                pre(node, i)
            if isinstance(child, _Node):
                _visit(child, i, types, pre, process)
    if isinstance(node, types):
        node = process(node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
    return node


def tighter_walks() -> bool:
    """moto's walk of an expression tree, with the same visits in the same order, less per visit."""
    traverser = _Traverser
    walk = getattr(traverser, "traverse_node_recursively", None)
    hook = getattr(traverser, "pre_processing_of_child", None)
    if walk is None or hook is None or _Node is None:
        warnings.warn("moto's expression traverser changed; its walk left as it is", stacklevel=2)
        return False

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        # moto calls itself on string leaves too (which return at once) and calls the child hook even
        # where it is the base class's no-op; the node classes to process are fixed per check.
        if not isinstance(node, _Node):
            return node
        pre = None if type(self).pre_processing_of_child is hook else self.pre_processing_of_child
        return _visit(node, child_id, self.nodes_to_be_processed(), pre, self.process)

    setattr(traverser, "traverse_node_recursively", traverse_node_recursively)  # noqa: B010
    return True


def root_first_clause_checks() -> bool:
    update_expression = _UpdateExpression
    checks = [
        getattr(dynamodb_validators, n, None) for n in ("ActionCountValidator", "OverlappingPathsValidator")
    ]
    if update_expression is None or not all(c is not None and "traverse" not in vars(c) for c in checks):
        warnings.warn("moto's update expression checks changed; left as they are", stacklevel=2)
        return False

    def traverse(self: Any, node: Any) -> Any:
        if isinstance(node, update_expression):
            try:
                self.process(node)
            except Exception:
                return _Traverser.traverse(self, node)
            return node
        return _Traverser.traverse(self, node)

    for check in checks:
        setattr(check, "traverse", traverse)  # noqa: B010
    return True


class _NotATree(Exception):
    """The value holds something other than moto's nodes and strings: copy.deepcopy copies it."""


_SCALARS = (str, int, float, bool, type(None))


def _clone(node: Any, parent: Any, seen: set[int]) -> Any:
    if id(node) in seen or set(vars(node)) != {"type", "children", "parent"}:
        raise _NotATree
    seen.add(id(node))
    clone = object.__new__(type(node))
    children = node.children
    if children is not None:
        cloned = []
        for child in children:
            if isinstance(child, _Node):
                cloned.append(_clone(child, clone, seen))
            elif isinstance(child, _SCALARS):
                cloned.append(child)
            else:
                raise _NotATree
        children = cloned
    clone.__dict__.update(type=node.type, children=children, parent=parent)
    return clone


def _deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    # A parsed tree's root has no parent; a node with one would drag its ancestors into the copy.
    if memo is None and isinstance(value, _Node) and value.parent is None:
        try:
            return _clone(value, None, set())
        except _NotATree:
            pass
    return copy.deepcopy(value, memo)


def clone_update_trees() -> bool:
    if getattr(dynamodb_validators, "deepcopy", None) is not copy.deepcopy or _Node is None:
        warnings.warn("moto's update expression validator changed; its copies left as they are", stacklevel=2)
        return False
    setattr(dynamodb_validators, "deepcopy", _deepcopy)  # noqa: B010
    return True


def memoise_condition_tokens() -> bool:
    parser = getattr(dynamodb_comparisons, "ConditionExpressionParser", None)
    lex = getattr(parser, "_lex_condition_expression", None)
    if parser is None or lex is None or not hasattr(parser, "Node"):
        warnings.warn("moto's condition expression lexer changed; left as it is", stacklevel=2)
        return False

    @functools.lru_cache(maxsize=1024)
    def tokens(expression: str) -> tuple[tuple[Any, ...], ...]:
        probe = parser.__new__(parser)
        probe.condition_expression = expression
        return tuple(tuple(node) for node in lex(probe))

    def _lex_condition_expression(self: Any) -> deque[Any]:
        expression = self.condition_expression
        if not isinstance(expression, str):
            return lex(self)  # type: ignore[no-any-return]
        # Fresh nodes per call: moto's nodes hold a list (children) that later steps may fill.
        node = self.Node
        return deque(node(n, k, t, v, list(c)) for n, k, t, v, c in tokens(expression))

    setattr(parser, "_lex_condition_expression", _lex_condition_expression)  # noqa: B010
    return True


PATCHES = (
    memoise_processing_maps,
    tighter_walks,
    root_first_clause_checks,
    clone_update_trees,
    memoise_condition_tokens,
)


# What the patches replace, (owner, attribute): for a caller that must put moto back as it was (tests,
# bench/e2e/dynamodb_calls.py). Owners moto no longer has are left out, as their patches skip them.
PATCHED_ATTRIBUTES: tuple[tuple[Any, str], ...] = tuple(
    (owner, name)
    for owner, name in (
        (_Traverser, "nodes_to_be_processed"),
        (_Traverser, "process"),
        (_Traverser, "traverse_node_recursively"),
        (getattr(dynamodb_validators, "ActionCountValidator", None), "traverse"),
        (getattr(dynamodb_validators, "OverlappingPathsValidator", None), "traverse"),
        (dynamodb_validators, "deepcopy"),
        (getattr(dynamodb_comparisons, "ConditionExpressionParser", None), "_lex_condition_expression"),
    )
    if owner is not None
)


def install() -> None:
    for patch in PATCHES:
        patch()
