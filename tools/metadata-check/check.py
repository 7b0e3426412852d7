"""Loads complyd's $metadata of both versions in python-odata, an OData v4 client library, and
checks that everything the model declares resolved: entity and complex types, derived policy types
as subclasses of their base with the inherited properties, enum members per version, navigation
properties with their targets, the bound `assign` action and the entity container. (python-odata
reads neither complex types nor ContainsTarget; the CSDL snapshot test guards those.)

Usage: check.py BASE_URL (e.g. http://127.0.0.1:8080); $metadata needs no token.
"""

import sys

from odata import ODataService
from odata.enumtype import EnumType

GRAPH = "microsoft.graph"
checked = 0
failed = 0


def check(condition, what):
    global checked, failed
    checked += 1
    if not condition:
        failed += 1
        print(f"FAIL: {what}")


def verify(base, version):
    service = ODataService(f"{base}/{version}/", reflect_entities=True, quiet_progress=True)
    # Every type, by qualified name, as classes (entity types) and Python enums (enum types).
    entities = {name.rsplit(".", 1)[1]: cls for name, cls in service.types.items()}
    policy = entities.get("deviceCompliancePolicy")
    check(policy is not None, f"{version}: entity type deviceCompliancePolicy")
    derived = [
        "windows10CompliancePolicy",
        "iosCompliancePolicy",
        "macOSCompliancePolicy",
        "androidCompliancePolicy",
        "androidWorkProfileCompliancePolicy",
        "windows81CompliancePolicy",
        "windowsPhone81CompliancePolicy",
        "windows10MobileCompliancePolicy",
    ]
    beta_only = ["androidDeviceOwnerCompliancePolicy", "androidForWorkCompliancePolicy", "defaultDeviceCompliancePolicy"]
    for name in derived + (beta_only if version == "beta" else []):
        cls = entities.get(name)
        check(cls is not None, f"{version}: entity type {name}")
        if cls is not None and policy is not None:
            check(issubclass(cls, policy), f"{version}: {name} derives from deviceCompliancePolicy")
            check(hasattr(cls, "displayName"), f"{version}: {name} inherits displayName")
    for name in beta_only:
        if version == "v1.0":
            check(name not in entities, f"{version}: beta-only {name} absent")
    for name in ["deviceCompliancePolicyAssignment", "deviceComplianceScheduledActionForRule", "deviceComplianceActionItem",
                 "deviceComplianceDeviceStatus", "deviceComplianceUserStatus", "deviceComplianceDeviceOverview",
                 "deviceComplianceUserOverview", "settingStateDeviceSummary", "deviceCompliancePolicyDeviceStateSummary",
                 "deviceCompliancePolicySettingStateSummary", "deviceComplianceSettingState", "deviceManagement"]:
        check(name in entities, f"{version}: entity type {name}")
    win10 = entities.get("windows10CompliancePolicy")
    if win10 is not None:
        check(hasattr(win10, "bitLockerEnabled"), f"{version}: windows10CompliancePolicy.bitLockerEnabled")
        check(hasattr(win10, "tpmRequired") == (version == "beta"), f"{version}: tpmRequired only on beta")
    # Keys come from the base type.
    if policy is not None:
        check(policy.__odata_schema__.get("base_type") == f"{GRAPH}.entity", f"{version}: policy base is entity")
    # Enums: reflected as Python enums with the version's members.
    action_item = entities.get("deviceComplianceActionItem")
    action_type = getattr(action_item, "actionType", None) if action_item is not None else None
    enum_class = getattr(action_type, "enum_class", None)
    check(enum_class is not None and issubclass(enum_class, EnumType), f"{version}: actionType is an enum property")
    if enum_class is not None:
        members = {m.name for m in enum_class}
        check({"noAction", "notification", "block", "retire", "wipe"} <= members, f"{version}: actionType members {members}")
        check(("remoteLock" in members) == (version == "beta"), f"{version}: remoteLock only on beta")
    # Navigation properties (containment) with resolved targets.
    for owner, nav, target in [
        ("deviceCompliancePolicy", "assignments", "deviceCompliancePolicyAssignment"),
        ("deviceCompliancePolicy", "scheduledActionsForRule", "deviceComplianceScheduledActionForRule"),
        ("deviceCompliancePolicy", "deviceStatusOverview", "deviceComplianceDeviceOverview"),
        ("deviceComplianceScheduledActionForRule", "scheduledActionConfigurations", "deviceComplianceActionItem"),
        ("deviceManagement", "deviceCompliancePolicies", "deviceCompliancePolicy"),
    ]:
        cls = entities.get(owner)
        prop = getattr(cls, nav, None) if cls is not None else None
        check(prop is not None, f"{version}: navigation {owner}.{nav}")
        navs = {n["name"]: n["type"] for n in (cls.__odata_schema__["navigation_properties"] if cls is not None else [])}
        check(navs.get(nav, "").endswith(f"{GRAPH}.{target})") or navs.get(nav) == f"{GRAPH}.{target}",
              f"{version}: {owner}.{nav} targets {target} ({navs.get(nav)})")
    # The bound actions, attached to the policy class.
    if policy is not None:
        assign = vars(policy).get("assign")  # a descriptor: read it off the class
        check(assign is not None, f"{version}: bound action assign on deviceCompliancePolicy")
        if assign is not None:
            check(assign.name == f"{GRAPH}.assign", f"{version}: assign is {GRAPH}.assign ({assign.name})")
            check("assignments" in assign.parameters, f"{version}: assign takes assignments")
        check(vars(policy).get("scheduleActionsForRules") is not None, f"{version}: scheduleActionsForRules")
    # The entity container.
    sets = service.entities
    root = sets.get("deviceManagement")
    check(root is not None and root.__odata_singleton__, f"{version}: singleton deviceManagement")
    check(root is not None and issubclass(root, entities.get("deviceManagement")), f"{version}: deviceManagement's type")
    check(("managedDeviceCompliances" in sets) == (version == "beta"), f"{version}: managedDeviceCompliances only on beta")


def main():
    base = sys.argv[1].rstrip("/")
    for version in ["v1.0", "beta"]:
        verify(base, version)
    print(f"metadata-check: {checked - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
