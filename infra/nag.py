"""cdk-nag (AwsSolutions) wiring, and the helper every construct uses to acknowledge a deliberate finding with
its reason, next to the code that causes it."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import Construct, IConstruct


def add_nag_checks(app: Construct) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one finding on `scope` and below; `finding` as the report prints it, without the pack prefix
    (e.g. `AwsSolutions-IAM5[Resource::*]`)."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason))


def arn_finding(resource: IConstruct, suffix: str) -> str:
    """The IAM5 finding for a wildcard below a resource's ARN, e.g. `<TableLogicalId.Arn>/index/*`."""
    return f"AwsSolutions-IAM5[Resource::<{logical_id(resource)}.Arn>{suffix}]"


def logical_id(resource: IConstruct) -> str:
    """The logical id of the CloudFormation resource behind `resource`, as cdk-nag's findings print it."""
    default_child = resource.node.default_child
    if not isinstance(default_child, CfnElement):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource to name")
    stack = Stack.of(resource)
    resolved: str = stack.resolve(stack.get_logical_id(default_child))
    return resolved
