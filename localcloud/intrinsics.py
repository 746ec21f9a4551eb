"""Resolves CloudFormation intrinsics (Ref, GetAtt, Sub, Join, If, ...) against the local resources.

Written here because moto's CloudFormation would also create the functions and event source mappings
(and then invoke them through Docker); we only want the names and attributes of what we provision.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any

from localcloud.errors import TemplateError

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Evaluates intrinsic functions; `attribute(logical_id, name)` supplies Ref and GetAtt values."""

    def __init__(
        self,
        *,
        stack_name: str,
        parameters: Mapping[str, str],
        conditions: Mapping[str, Any],
        mappings: Mapping[str, Any],
        attribute: Callable[[str, str], Any],
    ) -> None:
        self.stack_name = stack_name
        self.parameters = parameters
        self.conditions = conditions
        self.mappings = mappings
        self._attribute = attribute
        self._condition_values: dict[str, bool] = {}

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        pseudo = self.pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._attribute(name, "Ref")

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self.conditions:
                raise TemplateError(f"unknown condition {name}")
            self._condition_values[name] = bool(self.resolve(self.conditions[name]))
        return self._condition_values[name]

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside value; properties set to AWS::NoValue disappear."""
        result = self._resolve(value)
        return None if result is _NO_VALUE else result

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self._resolve(v) for v in value) if r is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        return {k: r for k, r in ((k, self._resolve(v)) for k, v in value.items()) if r is not _NO_VALUE}

    def _get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical_id, _, name = arg.partition(".")
        else:
            logical_id, name = self._resolve(arg[0]), self._resolve(arg[1])
        return self._attribute(logical_id, name)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], {k: self._resolve(v) for k, v in arg[1].items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attr = name.partition(".")
                return str(self._attribute(logical_id, attr))
            return str(self.ref(name))

        # "${!Literal}" is CloudFormation's escape for a literal "${Literal}".
        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _if(self, arg: list[Any]) -> Any:
        name, when_true, when_false = arg
        return self._resolve(when_true if self.condition(name) else when_false)

    def _find_in_map(self, arg: list[Any]) -> Any:
        map_name, top, second = (self._resolve(a) for a in arg)
        return self.mappings[map_name][top][second]


def _equals(r: Resolver, arg: list[Any]) -> bool:
    return bool(str(r._resolve(arg[0])) == str(r._resolve(arg[1])))


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": lambda r, a: r._get_att(a),
    "Fn::Sub": lambda r, a: r._sub(a),
    "Fn::Join": lambda r, a: str(r._resolve(a[0])).join(str(x) for x in r._resolve(a[1])),
    "Fn::Select": lambda r, a: r._resolve(a[1])[int(r._resolve(a[0]))],
    "Fn::Split": lambda r, a: str(r._resolve(a[1])).split(str(r._resolve(a[0]))),
    "Fn::If": lambda r, a: r._if(a),
    "Fn::Equals": _equals,
    "Fn::Not": lambda r, a: not bool(r._resolve(a[0])),
    "Fn::And": lambda r, a: all(bool(r._resolve(x)) for x in a),
    "Fn::Or": lambda r, a: any(bool(r._resolve(x)) for x in a),
    "Condition": lambda r, a: r.condition(a),
    "Fn::FindInMap": lambda r, a: r._find_in_map(a),
    "Fn::Base64": lambda r, a: base64.b64encode(str(r._resolve(a)).encode()).decode(),
    "Fn::GetAZs": lambda r, a: [f"{REGION}a", f"{REGION}b"],
}
