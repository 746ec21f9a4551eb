"""moto with localcloud.motoexpressions answers every update and condition as moto does without it."""

from __future__ import annotations

import copy
import functools
import gc
import re
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.parsing import ast_nodes, expressions, validators

from localcloud import motoexpressions
from tests.localcloud.support import answer, create_table, restored

# moto's expression modules declare no types; their classes are read by name.
NODE: Any = vars(ast_nodes)["Node"]
TRAVERSER: Any = vars(ast_nodes)["DepthFirstTraverser"]
PATCHED = motoexpressions.PATCHED_ATTRIBUTES


@pytest.fixture
def patched() -> Iterator[None]:
    with restored(*PATCHED):
        assert all(patch() for patch in motoexpressions.PATCHES)
        yield


BASE = {
    "ticker": {"S": "ACME"},
    "bucket": {"N": "60"},
    "qty": {"N": "5"},
    "status": {"S": "NEW"},
    "meta": {"M": {"src": {"S": "api"}, "tries": {"N": "1"}, "tags": {"L": [{"S": "a"}, {"S": "b"}]}}},
    "fills": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]},
    "labels": {"SS": ["x", "y"]},
    "note": {"S": "hello world"},
}
NAMES = {"#s": "status", "#m": "meta", "#q": "qty", "#k": "ticker", "#size": "size"}
VALUES = {
    ":one": {"N": "1"},
    ":n": {"N": "7"},
    ":s": {"S": "FILLED"},
    ":new": {"S": "NEW"},
    ":l": {"L": [{"N": "9"}]},
    ":ss": {"SS": ["y", "z"]},
    ":str": {"S": "x"},
    ":lo": {"N": "1"},
    ":hi": {"N": "10"},
    ":pre": {"S": "hell"},
}

UPDATES = [
    "SET #s = :s",
    "SET #q = #q + :n, #s = :s ADD meta.tries :one",
    "SET #q = if_not_exists(absent, :n) - :one, fills = list_append(fills, :l)",
    "SET fills = list_append(:l, fills) REMOVE fills[0], meta.src DELETE labels :ss",
    "SET #m.#s = :s, #m.tags[1] = :str, #m.tags[5] = :str",
    "ADD labels :ss, counter :one REMOVE note",
    "SET a = :one, b = :one, c = :one, d = :one, e = :one, f = :one, g = :one, h = :one REMOVE note",
    "SET #s = :s SET #q = :n",  # two SET clauses
    "ADD counter :one ADD other :one",
    "REMOVE note REMOVE fills",
    "SET #s = :s, #s = :new",  # the same path twice
    "SET meta = :s, meta.src = :s",  # overlapping paths
    "SET meta.src = :s REMOVE meta",
    "SET a = :one, b = :one, a = :one, b = :one",  # duplicates, the message lists them
    "SET #k = :s",  # a key attribute
    "SET #nope = :s",  # an undefined name
    "SET #s = :nope",  # an undefined value
    "SET x = list_append(absent, :l)",
    "ADD #s :one",  # a number added to a string
    "SET #q = #q + :str",
    "SET fills[1].deep = :one",
    "SET = :one",
    "DELETE labels :str",
]

CONDITIONS = [
    "attribute_exists(#s)",
    "attribute_not_exists(nothing) AND #s = :new",
    "#q BETWEEN :lo AND :hi",
    "#s IN (:s, :new)",
    "begins_with(note, :pre) OR NOT (#q < :lo)",
    "size(fills) > :one AND meta.tries = :one",
    "(#m.src = :str) OR (fills[0] = :one AND contains(labels, :str))",
    "attribute_type(#q, :str)",
    "#q <> :n AND #q >= :lo AND #q <= :hi",
    "#s = :s",  # false: refused
    "status = :new",  # a reserved word without a placeholder
    "#s = :nope",
    "#nope = :s",
    "#s = = :s",
    "#s BETWEEN :lo",
    "((#s = :new))",
    "size(#size) = :one",
]


def scenario() -> list[Any]:
    """Each update and each guarded write on a fresh copy of one item; what moto answered, what it kept."""
    seen: list[Any] = []
    with mock_aws():
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        create_table(ddb, "t", ("ticker", "S", "HASH"), ("bucket", "N", "RANGE"))
        key = {"ticker": BASE["ticker"], "bucket": BASE["bucket"]}

        def attempt(call: Callable[[], Any]) -> None:
            ddb.put_item(TableName="t", Item=copy.deepcopy(BASE))
            seen.append(answer(call))
            seen.append(ddb.get_item(TableName="t", Key=key).get("Item"))

        def used(expression: str, mapping: dict[str, Any]) -> dict[str, Any]:
            placeholders = set(re.findall(r"[:#][A-Za-z0-9_]+", expression))
            return {k: v for k, v in mapping.items() if k in placeholders}

        for _ in range(2):  # the second round is served from whatever the patches memoised
            for expression in UPDATES:
                names = used(expression, NAMES) | ({"#nope": "nope"} if "#nope" in expression else {})
                values = used(expression, VALUES)
                args: dict[str, Any] = {"TableName": "t", "Key": key, "UpdateExpression": expression}
                if names:
                    args["ExpressionAttributeNames"] = names
                if values:
                    args["ExpressionAttributeValues"] = values
                attempt(functools.partial(ddb.update_item, **args, ReturnValues="ALL_NEW"))
            for condition in CONDITIONS:
                names = used(condition, NAMES)
                values = used(condition, VALUES) | {":mark": VALUES[":str"]}
                common: dict[str, Any] = {
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                }
                if names:
                    common["ExpressionAttributeNames"] = names
                update = {"UpdateExpression": "SET marked = :mark", "TableName": "t", "Key": key}
                attempt(functools.partial(ddb.update_item, **update, **common))
                attempt(
                    functools.partial(
                        ddb.put_item, TableName="t", Item={**key, "replaced": {"S": "yes"}}, **common
                    )
                )
                attempt(functools.partial(ddb.delete_item, TableName="t", Key=key, **common))
                scan = {k.replace("Condition", "Filter"): v for k, v in common.items()}
                seen.append(answer(functools.partial(ddb.scan, TableName="t", **scan)))
    return seen


def test_updates_and_conditions_answer_as_moto_s_own() -> None:
    stock = scenario()
    with restored(*PATCHED):
        assert all(patch() for patch in motoexpressions.PATCHES)
        ours = scenario()
    assert ours == stock
    # the scenario reaches both sides of every check: written and refused, valid and not
    codes = {step[1] for step in stock if isinstance(step, tuple)}
    assert {"ValidationException", "ConditionalCheckFailedException"} <= codes
    messages = [step[2] for step in stock if isinstance(step, tuple)]
    for expected in ("Two document paths overlap", "section can only be used once", "redundant parentheses"):
        assert any(expected in m for m in messages), expected


def test_a_cloned_tree_is_a_deep_copy(patched: None) -> None:
    tree = vars(expressions)["UpdateExpressionParser"].make(
        "SET #q = if_not_exists(#q, :zero) + :n, a.b[2] = :s REMOVE c[1] ADD d :one"
    )
    clone = vars(validators)["deepcopy"](tree)

    def nodes(node: Any) -> Iterator[Any]:
        yield node
        for child in node.children or []:
            if isinstance(child, NODE):
                yield from nodes(child)

    pairs = list(zip(nodes(tree), nodes(copy.deepcopy(tree)), nodes(clone), strict=True))
    for original, deep, ours in pairs:
        assert type(ours) is type(deep) and ours is not original
        assert [c for c in ours.children or [] if not isinstance(c, NODE)] == [
            c for c in deep.children or [] if not isinstance(c, NODE)
        ]
        assert (ours.parent is None) == (original.parent is None)
        assert ours.parent is None or ours in ours.parent.children
        assert ours.children is not original.children or ours.children is None
    # anything that is not a tree of moto's nodes and strings is copy.deepcopy's
    value = {"a": [1, 2]}
    assert vars(validators)["deepcopy"](value) == value and vars(validators)["deepcopy"](value) is not value


def test_the_checks_of_an_update_are_freed_without_the_cyclic_collector(patched: None) -> None:
    """A check that kept its map or a self-calling closure would live (with the item it resolved
    against) until the cyclic collector ran, and for good if the local cloud's gc.freeze came first."""
    resolving = vars(validators)["ExpressionAttributeResolvingProcessor"]
    with mock_aws():
        ddb: Any = boto3.client("dynamodb", region_name="us-east-1")
        create_table(ddb, "t", ("k", "S", "HASH"))
        ddb.put_item(TableName="t", Item={"k": {"S": "a"}})
        gc.collect()
        gc.disable()
        try:
            for n in range(20):
                ddb.update_item(
                    TableName="t",
                    Key={"k": {"S": "a"}},
                    UpdateExpression="SET n = :v",
                    ExpressionAttributeValues={":v": {"N": str(n)}},
                )
            alive = sum(isinstance(o, resolving) for o in gc.get_objects())
        finally:
            gc.enable()
    assert alive == 0
