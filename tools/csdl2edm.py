#!/usr/bin/env python3
"""Model text (`.edm`, see crates/odata/src/edm/FORMAT.md) for Graph types, from Microsoft's CSDL.

    tools/csdl2edm.py --out crates/odata/src/edm/slice/directory.edm directoryObject user group device
    tools/csdl2edm.py --out crates/odata/src/edm/slice/assignment_filters.edm deviceAndAppManagementAssignmentFilter

Names, types and nullability come from the metadata; every property of each named type is
written, with the complex and enum types they use (those another slice file declares already are
left to it). Where the types are looked up, first found wins:

- the extracts in ../shared/reference (v1.0 and a 2022 beta; --reference), for the types they hold;
- the full current v1.0 CSDL and an older beta (defaults /tmp/v1-prod.csdl, /tmp/beta-ussec.csdl;
  from microsoftgraph/msgraph-metadata), for the types they lack.

A property (or type, or enum member) in the v1.0 metadata is in both versions; one only in the
beta metadata gets `beta`. The beta extract is older than v1.0's, so what v1.0 has and it lacks
is treated as in both. What the metadata cannot say (required on create, indexes, the service's
links and rules) is the OVERLAY below: edit it and run the script again, never the output. The
CSDL files themselves are not committed.
"""

import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# ../shared/reference beside the main checkout (a worktree may sit one level deeper).
REFERENCES = [os.path.join(ROOT, *up, "shared", "reference") for up in ([".."], ["..", ".."])]
SLICE = os.path.join(ROOT, "crates", "odata", "src", "edm", "slice")
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
PRIMITIVES = {
    "Edm.String": "String",
    "Edm.Boolean": "Boolean",
    "Edm.Int32": "Int32",
    "Edm.Int64": "Int64",
    "Edm.DateTimeOffset": "DateTimeOffset",
    "Edm.Binary": "Binary",
    "Edm.Guid": "Guid",
    "Edm.TimeOfDay": "TimeOfDay",
    "Edm.Double": "Double",
}

# Per type: `abstract`, flags to add to properties, lines to add after the properties
# (navigations), and properties to leave out. Flags are the model's (FORMAT.md).
OVERLAY = {
    "directoryObject": {
        "abstract": True,
        "header": "# The base of every directory object: /directoryObjects holds users, groups and devices.",
        "flags": {"deletedDateTime": "server"},
    },
    "user": {
        "flags": {
            "accountEnabled": "required",
            "displayName": "required index v1-default",
            "mailNickname": "required",
            "userPrincipalName": "required alternate-key v1-default",
            "passwordProfile": "required",
            "createdDateTime": "server created",
            "businessPhones": "v1-default",
            "givenName": "v1-default",
            "jobTitle": "v1-default",
            "mail": "v1-default",
            "mobilePhone": "v1-default rule-name mobile",
            "officeLocation": "v1-default rule-name physicalDeliveryOfficeName",
            "preferredLanguage": "v1-default",
            "surname": "v1-default",
            "faxNumber": "rule-name facsimileTelephoneNumber",
            "onPremisesExtensionAttributes": "rule-spread",
            "onPremisesSyncEnabled": "rule-name dirSyncEnabled",
        },
        "lines": [
            "memberOf -> Collection(directoryObject) links members inverse",
            "transitiveMemberOf -> Collection(directoryObject) links members inverse transitive",
            "ownedDevices -> Collection(directoryObject) links registeredOwners inverse",
            "registeredDevices -> Collection(directoryObject) links registeredUsers inverse",
            "managedDevices -> Collection(managedDevice) view /deviceManagement/managedDevices where userId permissions managedDevices",
        ],
    },
    "group": {
        "flags": {
            "displayName": "required index",
            "mailEnabled": "required",
            "mailNickname": "required",
            "securityEnabled": "required",
            "createdDateTime": "server created",
            "membershipRule": "rule membership",
        },
        "lines": [
            "members -> Collection(directoryObject) links members computed-by membershipRule over user,device permissions groupMembers",
            "transitiveMembers -> Collection(directoryObject) links members transitive permissions groupMembers",
            "memberOf -> Collection(directoryObject) links members inverse",
            "transitiveMemberOf -> Collection(directoryObject) links members inverse transitive",
            "owners -> Collection(directoryObject) links owners permissions groupMembers",
        ],
    },
    "device": {
        "flags": {
            "accountEnabled": "required",
            "alternativeSecurityIds": "required",
            "deviceId": "required index",
            "displayName": "required index",
            "operatingSystem": "required rule-name deviceOSType",
            "operatingSystemVersion": "required rule-name deviceOSVersion",
            "manufacturer": "rule-name deviceManufacturer",
            "model": "rule-name deviceModel",
            "mdmAppId": "rule-name deviceManagementAppId",
            "physicalIds": "rule-name devicePhysicalIds",
            "trustType": "rule-name deviceTrustType",
            "extensionAttributes": "rule-spread",
        },
        "lines": [
            "memberOf -> Collection(directoryObject) links members inverse",
            "transitiveMemberOf -> Collection(directoryObject) links members inverse transitive",
            "registeredOwners -> Collection(directoryObject) links registeredOwners",
            "registeredUsers -> Collection(directoryObject) links registeredUsers",
        ],
    },
    "deviceAndAppManagementAssignmentFilter": {
        "flags": {
            "createdDateTime": "server created",
            "lastModifiedDateTime": "server modified",
            "displayName": "required index",
            "platform": "required",
            "rule": "required rule assignment-filter",
        },
    },
    "passwordProfile": {"flags": {"password": "secret"}},
    "managedDevice": {
        "header": "# An Intune managed device (/deviceManagement/managedDevices). The compliance engine sets its\n"
                  "# verdict (complianceState, complianceGracePeriodExpirationDateTime) and its policy states.",
        "flags": {
            "deviceName": "index",
            "complianceState": "index",
            "operatingSystem": "index",
            "userId": "index",
            "userPrincipalName": "index",
            "azureADDeviceId": "index",
            "lastSyncDateTime": "index",
        },
        "lines": [
            "deviceCompliancePolicyStates -> Collection(deviceCompliancePolicyState) read-only",
        ],
    },
    # The engine re-evaluates a device whenever its policy changes: a state shows the policy's
    # current version, read from the policy, so a change that moves no outcome writes no state.
    "deviceCompliancePolicyState": {
        "flags": {"version": "follows /deviceManagement/deviceCompliancePolicies version"},
    },
}


def load(path):
    """Schema children by name, or {} when the file is missing."""
    if not os.path.exists(path):
        return {}
    root = ET.parse(path).getroot()
    schema = root if root.tag == EDM + "Schema" else root.find(f".//{EDM}Schema")
    out = {}
    for element in schema:
        kind = element.tag.replace(EDM, "")
        if kind in ("EntityType", "ComplexType", "EnumType"):
            out[element.get("Name")] = element
    return out


class Sources:
    def __init__(self, args):
        reference = args.reference or next((r for r in REFERENCES if os.path.isdir(r)), "")
        self.v1 = load(os.path.join(reference, "csdl-v1.0-neighbours.xml"))
        self.beta = load(os.path.join(reference, "csdl-beta-2022-neighbours.xml"))
        if not (self.v1 and self.beta):
            sys.exit("need the extracts in ../shared/reference (or --reference DIR)")
        self.v1_full = load(args.v1_full)
        self.beta_full = load(args.beta_full)
        if not (self.v1_full and self.beta_full):
            sys.exit(f"need {args.v1_full} and {args.beta_full} (msgraph-metadata)")

    def pair(self, name):
        """The (v1.0, beta) definitions of a type: the extracts first, then the full files."""
        v1 = self.v1.get(name)
        beta = self.beta.get(name)
        if v1 is None and beta is None:
            v1, beta = self.v1_full.get(name), self.beta_full.get(name)
        return v1, beta


def short(type_name):
    return type_name.split(".")[-1]


def type_text(edm_type, nullable):
    inner = re.sub(r"^Collection\((.*)\)$", r"\1", edm_type)
    name = PRIMITIVES.get(inner) or short(inner)
    if inner.startswith("Edm.") and inner not in PRIMITIVES:
        sys.exit(f"no model primitive for {inner}")
    text = f"Collection({name})" if inner != edm_type else name
    return text + ("?" if nullable else "")


def members(element, tag):
    return [] if element is None else element.findall(EDM + tag)


class Writer:
    def __init__(self, sources, declared):
        self.sources = sources
        self.declared = declared
        self.done = set()
        self.blocks = []

    def type_block(self, name):
        if name in self.done or name in self.declared:
            return
        self.done.add(name)
        v1, beta = self.sources.pair(name)
        element = v1 if v1 is not None else beta
        if element is None:
            sys.exit(f"type {name} is in no metadata")
        kind = element.tag.replace(EDM, "")
        if kind == "EnumType":
            return self.enum_block(name, v1, beta)
        overlay = OVERLAY.get(name, {})
        header = ["entity" if kind == "EntityType" else "complex", name]
        base = element.get("BaseType")
        if base and short(base) != "entity":
            header += [":", short(base)]
            self.type_block(short(base))
        if element.get("Abstract") == "true" or overlay.get("abstract"):
            header.append("abstract")
        if v1 is None:
            header.append("beta")
        lines = [f"# {overlay['header'][2:]}"] if "header" in overlay else []
        lines.append(" ".join(header))
        v1_props = {p.get("Name"): p for p in members(v1, "Property")}
        beta_props = {p.get("Name"): p for p in members(beta, "Property")}
        names = list(v1_props) + [n for n in beta_props if n not in v1_props]
        for prop_name in names:
            prop = v1_props.get(prop_name, beta_props.get(prop_name))
            edm_type = prop.get("Type")
            inner = re.sub(r"^Collection\((.*)\)$", r"\1", edm_type)
            if not inner.startswith("Edm."):
                self.type_block(short(inner))
            nullable = prop.get("Nullable") != "false"
            flags = [] if prop_name in v1_props or v1 is None else ["beta"]
            extra = overlay.get("flags", {}).get(prop_name)
            if extra:
                flags.append(extra)
            lines.append(f"  {prop_name}: {type_text(edm_type, nullable)} {' '.join(flags)}".rstrip())
        lines += [f"  {line}" for line in overlay.get("lines", [])]
        self.blocks.append("\n".join(lines))

    def enum_block(self, name, v1, beta):
        lines = [f"enum {name}"]
        v1_members = {m.get("Name"): m.get("Value") for m in members(v1, "Member")}
        beta_members = {m.get("Name"): m.get("Value") for m in members(beta, "Member")}
        for member, value in v1_members.items():
            lines.append(f"  {member} = {value}")
        for member, value in beta_members.items():
            if member not in v1_members:
                lines.append(f"  {member} = {value}{'' if v1 is None else ' beta'}")
        self.blocks.append("\n".join(lines))


def declared_elsewhere(out_path):
    """Type names the other slice files declare."""
    names = set()
    for file in os.listdir(SLICE):
        path = os.path.join(SLICE, file)
        if not file.endswith(".edm") or os.path.abspath(path) == os.path.abspath(out_path):
            continue
        for line in open(path, encoding="utf-8"):
            m = re.match(r"^(?:entity|complex|enum) (\w+)", line)
            if m:
                names.add(m.group(1))
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("types", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--reference", help="the folder of the csdl-*-neighbours.xml extracts")
    parser.add_argument("--v1-full", default="/tmp/v1-prod.csdl")
    parser.add_argument("--beta-full", default="/tmp/beta-ussec.csdl")
    args = parser.parse_args()
    writer = Writer(Sources(args), declared_elsewhere(args.out))
    for name in args.types:
        writer.type_block(name)
    command = "tools/csdl2edm.py --out " + os.path.relpath(args.out, ROOT) + " " + " ".join(args.types)
    text = "\n".join(
        [
            "# Generated by " + command,
            "# from Microsoft's metadata (see the script); edit its OVERLAY, not this file.",
            "namespace microsoft.graph",
            "",
        ]
    )
    text += "\n\n".join(writer.blocks) + "\n"
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(text)


if __name__ == "__main__":
    main()
