"""Every planned resource's inputs match the input types its provider's SDK declares (engine/schema_check.py).

Raw dicts (nested args, union-typed properties, override values) bypass the SDK's typed Args, so a snake_case key
or a typo reaches the cloud API as written: the Azure Front Door rule that sent ``ModifyRequestHeader`` parameters
as ``type_name``/``header_action``/``header_name`` was rejected by ARM and the route never created. This checks
names (camelCase as sent), nesting, required properties, constants and enum values, in all 24 built-in plans.

Skipped, because no provider schema describes their inputs: dynamic resources (``pulumi-python:dynamic*``, the
local target's processes, databases and files) and component resources (``mbops:*``, which send nothing to a
provider). Open enums (``Union[str, SomeEnum]``) take any string, as the SDK does: some are catalogs that lag the
cloud (Azure's ``VirtualMachineSizeTypes`` has no ``Standard_D2s_v5``); closed enums are checked.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mbops.engine.plan import plan
from mbops.engine.schema_check import Problem, check_graph, check_inputs, skip_reason
from mbops.stacks.config import resolve
from tests.conftest import ENVIRONMENTS, PROFILES

CLOUDS = ("aws", "gcp", "azure", "local")
PLANS = [(profile, cloud, env) for profile in PROFILES for cloud in CLOUDS for env in ENVIRONMENTS]

FRONT_DOOR_RULE = "azure-native:cdn:Rule"


@pytest.mark.parametrize(("profile", "cloud", "env"), PLANS, ids=["-".join(p) for p in PLANS])
def test_planned_inputs_match_the_provider_sdk_input_types(planned, profile: str, cloud: str, env: str) -> None:
    graph = planned(profile, cloud, env)
    checked = [r for r in graph["resources"] if skip_reason(r) is None]
    if cloud != "local":
        assert checked, f"{profile}/{cloud}/{env}: no resource with SDK input types was planned"
    findings = check_graph(graph)
    listing = "\n".join(f"  {f}" for f in findings)
    assert not findings, (
        f"stack {graph.get('stack', profile)} ({profile}/{cloud}/{env}): {len(findings)} input problem(s) in "
        f"{len({f.urn for f in findings})} of {len(checked)} checked resources:\n{listing}"
    )


def _rule(parameters: dict[str, Any]) -> dict[str, Any]:
    """A Front Door rule's inputs as planned, with the ModifyRequestHeader action's parameters given."""
    return {
        "profileName": "afd-saas-prod",
        "resourceGroupName": "rg-saas-prod",
        "ruleSetName": "storage",
        "ruleName": "blobauth",
        "order": 1,
        "matchProcessingBehavior": "Continue",
        "conditions": [],
        "actions": [
            {"name": "ModifyRequestHeader", "parameters": parameters},
            {
                "name": "RouteConfigurationOverride",
                "parameters": {
                    "typeName": "DeliveryRuleRouteConfigurationOverrideActionParameters",
                    "cacheConfiguration": {"cacheBehavior": "OverrideIfOriginMissing", "cacheDuration": "0.01:00:00"},
                },
            },
        ],
    }


def test_the_azure_front_door_snake_case_bug_is_reported_with_its_path() -> None:
    fixed = {
        "typeName": "DeliveryRuleHeaderActionParameters",
        "headerAction": "Overwrite",
        "headerName": "x-ms-version",
        "value": "2024-11-04",
    }
    assert check_inputs(FRONT_DOOR_RULE, _rule(fixed)) == []

    # the bug as planned: the parameters dict written with the SDK's Python names
    buggy = {"type_name": fixed["typeName"], "header_action": "Overwrite", "header_name": "x-ms-version", "value": "1"}
    graph = {
        "resources": [
            {"urn": "urn:x", "type": FRONT_DOOR_RULE, "name": "cdn-rule", "custom": True, "inputs": _rule(buggy)}
        ]
    }
    findings = check_graph(graph)
    assert [(f.name, f.problem.path, f.problem.kind) for f in findings] == [
        ("cdn-rule", "actions[0].parameters.type_name", "unknown-property"),
        ("cdn-rule", "actions[0].parameters.header_action", "unknown-property"),
        ("cdn-rule", "actions[0].parameters.header_name", "unknown-property"),
    ]
    assert str(findings[0]) == (
        "azure-native:cdn:Rule 'cdn-rule': actions[0].parameters.type_name: unknown property "
        "(did you mean typeName?); allowed: headerAction, headerName, typeName, value"
    )


def test_an_unknown_action_name_is_reported_against_the_union_discriminator() -> None:
    inputs = _rule({})
    inputs["actions"][0]["name"] = "ModifyRequestHeaders"
    [problem] = check_inputs(FRONT_DOOR_RULE, inputs)
    assert problem.path == "actions[0].name" and problem.kind == "constant"
    assert '"ModifyRequestHeaders" is not one of:' in problem.message and "ModifyRequestHeader," in problem.message


def test_a_typo_in_an_aws_override_is_reported_on_the_planned_resource() -> None:
    overrides = {"storage": {"overrides": {"ownership": {"rule": {"object_ownershp": "ObjectWriter"}}}}}
    stack = resolve(profile="managed", cloud="aws", environment="dev", components=overrides)
    findings = check_graph(plan(stack, with_policy=False, with_cost=False))
    assert [(f.type, f.name, f.problem.path) for f in findings] == [
        (
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "managed-dev-files-ownership",
            "rule.object_ownershp",
        ),
    ]
    assert findings[0].problem.message == "unknown property (did you mean objectOwnership?); allowed: objectOwnership"


ASG = "aws:autoscaling/group:Group"
ACCOUNT = "azure-native:storage:StorageAccount"
ACCOUNT_INPUTS = {"resourceGroupName": "rg", "kind": "StorageV2", "sku": {"name": "Standard_ZRS"}}


@pytest.mark.parametrize(
    ("token", "inputs", "expected"),
    [
        # nesting: an object where a list is declared, a list where an object is declared
        (ASG, {"maxSize": 2, "minSize": 1, "tags": {"key": "a"}}, [("tags", "type")]),
        (ACCOUNT, {**ACCOUNT_INPUTS, "sku": [{"name": "Standard_ZRS"}]}, [("sku", "type")]),
        # required properties, top level and nested
        (ASG, {"minSize": 1}, [("maxSize", "missing-required")]),
        (ACCOUNT, {**ACCOUNT_INPUTS, "sku": {}}, [("sku.name", "missing-required")]),
        # scalars: a string where a number is declared
        (ASG, {"maxSize": "2", "minSize": 1}, [("maxSize", "type")]),
        # a closed enum (aws Metric) and an open one (azure Kind: any string to the SDK; strict here)
        (
            ASG,
            {"maxSize": 2, "minSize": 1, "enabledMetrics": ["GroupInServiceInstance"]},
            [("enabledMetrics[0]", "enum")],
        ),
        (ACCOUNT, {**ACCOUNT_INPUTS, "kind": "StorageV3"}, [("kind", "open-enum")]),
        # placeholders satisfy any type; maps take any key
        (ACCOUNT, {**ACCOUNT_INPUTS, "sku": "[computed]", "tags": {"kubernetes.io/role": "x"}}, []),
        (ACCOUNT, {**ACCOUNT_INPUTS, "networkRuleSet": "[secret]", "encryption": {"services": "[computed]"}}, []),
        # provider configuration arrives as strings
        ("pulumi:providers:gcp", {"project": "p", "userProjectOverride": "true"}, []),
        ("pulumi:providers:gcp", {"project": "p", "userProjectOverride": "yes"}, [("userProjectOverride", "type")]),
        # a token no installed SDK declares is a problem, not a traceback
        ("aws:s3/bucketz:Bucketz", {}, [("", "unknown-type")]),
        ("nosuch:mod:Type", {}, [("", "unknown-type")]),
    ],
)
def test_check_inputs_reports_what_the_sdk_does_not_declare(
    token: str, inputs: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    problems = check_inputs(token, copy.deepcopy(inputs), strict_enums=True)
    assert [(p.path, p.kind) for p in problems] == expected, [str(p) for p in problems]


def test_open_enums_take_any_string_unless_strict() -> None:
    inputs = {**ACCOUNT_INPUTS, "kind": "StorageV3"}
    assert check_inputs(ACCOUNT, inputs) == []
    assert check_inputs(ACCOUNT, inputs, strict_enums=True) == [
        Problem(
            "kind",
            "open-enum",
            'string "StorageV3" is not a known Kind value (the SDK also takes other '
            "strings); known: Storage, StorageV2, BlobStorage, FileStorage, BlockBlobStorage",
        ),
    ]


def test_dynamic_and_component_resources_are_skipped(planned) -> None:
    local = planned("managed", "local", "dev")["resources"]
    assert local and all(skip_reason(r) for r in local)
    cloud = planned("managed", "aws", "dev")["resources"]
    components = [r for r in cloud if r["type"].startswith("mbops:")]
    assert components and all(skip_reason(r) for r in components)
