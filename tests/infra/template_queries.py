"""Small readers over a synthesized template: find a function by handler, its policy statements, a definition."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

Resources = Mapping[str, Any]


def logical_id(resources: Resources, resource_type: str, contains: str) -> str:
    """The one resource of `resource_type` whose logical id contains `contains`."""
    found = [key for key, value in resources.items() if value["Type"] == resource_type and contains in key]
    assert len(found) == 1, f"expected one {resource_type} named like {contains}, found {found}"
    return found[0]


def function_id(resources: Resources, handler: str) -> str:
    found = [
        key
        for key, value in resources.items()
        if value["Type"] == "AWS::Lambda::Function" and value["Properties"]["Handler"] == handler
    ]
    assert len(found) == 1, f"expected one function with handler {handler}, found {found}"
    return found[0]


def statements_of(resources: Resources, function: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the function's execution role."""
    role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for value in resources.values()
        if value["Type"] == "AWS::IAM::Policy" and {"Ref": role} in value["Properties"]["Roles"]
        for statement in value["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: Mapping[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def referenced_ids(value: Any) -> Iterator[str]:
    """The logical ids a resource expression (Ref, GetAtt, Join of those) points at."""
    if isinstance(value, list):
        for item in value:
            yield from referenced_ids(item)
    elif isinstance(value, dict):
        if "Ref" in value:
            yield value["Ref"]
        elif "Fn::GetAtt" in value:
            yield value["Fn::GetAtt"][0]
        else:
            for item in value.values():
                yield from referenced_ids(item)


def rendered_join(value: Mapping[str, Any]) -> str:
    """A Fn::Join as text, each Ref/GetAtt written as <LogicalId> or <LogicalId.Attribute>."""
    separator, parts = value["Fn::Join"]
    return separator.join(
        part
        if isinstance(part, str)
        else f"<{part['Ref']}>"
        if "Ref" in part
        else "<{}.{}>".format(*part["Fn::GetAtt"])
        for part in parts
    )


def state_machine_definition(resources: Resources) -> dict[str, Any]:
    machine = resources[logical_id(resources, "AWS::StepFunctions::StateMachine", "TripSaga")]
    definition: dict[str, Any] = json.loads(rendered_join(machine["Properties"]["DefinitionString"]))
    return definition
