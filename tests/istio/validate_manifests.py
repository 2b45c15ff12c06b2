"""Validates the shipped Istio manifests against Istio's CRD schemas (../shared/istio), plus the
x-kubernetes-validations CEL rules of those schemas, checked by hand below."""
import json, sys
from pathlib import Path

import jsonschema
import yaml

root = Path(__file__).resolve().parents[2]
schemas = root.parent / "shared" / "istio"
failures = 0
checked = 0


def fail(msg):
    global failures
    failures += 1
    print(f"FAIL {msg}")


def schema_for(kind, version):
    name = {"WasmPlugin": "istio-wasmplugin-schema.json", "ServiceEntry": "istio-serviceentry-schema.json"}.get(kind)
    if not name:
        return None
    doc = json.loads((schemas / name).read_text())
    return doc["versions"].get(version)


def cel_rules(kind, spec):
    """The CEL rules of the schemas, as Python."""
    if kind == "WasmPlugin":
        if sum(k in spec for k in ("selector", "targetRef", "targetRefs")) > 1:
            yield "only one of targetRefs or selector can be set"
    if kind == "ServiceEntry":
        resolution = spec.get("resolution", "NONE")
        if "workloadSelector" in spec and "endpoints" in spec:
            yield "only one of WorkloadSelector or Endpoints can be set"
        if any("/" in a for a in spec.get("addresses", [])) and resolution not in ("STATIC", "NONE"):
            yield "CIDR addresses are allowed only for NONE/STATIC resolution types"
        if resolution == "NONE" and "endpoints" in spec:
            yield "NONE mode cannot set endpoints"
        if resolution == "DNS_ROUND_ROBIN" and len(spec.get("endpoints", [])) > 1:
            yield "DNS_ROUND_ROBIN mode cannot have multiple endpoints"
        for p in spec.get("ports", []):
            for key in ("number", "targetPort"):
                if key in p and not (0 < p[key] <= 65535):
                    yield f"port must be between 1-65535 ({key})"
        names = [p["name"] for p in spec.get("ports", [])]
        if len(names) != len(set(names)):
            yield "port names must be unique"


for path in sorted((root / "envoy" / "istio").glob("*.yaml")):
    for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
        if not doc:
            continue
        kind, version = doc["kind"], doc["apiVersion"].split("/")[1]
        schema = schema_for(kind, version)
        if schema is None:
            print(f"skip {path.name}[{i}] {kind} ({version}): no schema in ../shared/istio")
            continue
        checked += 1
        spec = doc.get("spec", {})
        try:
            jsonschema.validate(spec, schema["properties"]["spec"])
        except jsonschema.ValidationError as e:
            fail(f"{path.name}[{i}] {kind}: {e.message} at {list(e.absolute_path)}")
        for problem in cel_rules(kind, spec):
            fail(f"{path.name}[{i}] {kind}: {problem}")
        if kind == "WasmPlugin":
            # The plugin configuration must be what actorwatch validates; print it for the caller.
            (root / "target").mkdir(exist_ok=True)
            (root / "target" / f"istio-pluginconfig-{i}.json").write_text(json.dumps(spec["pluginConfig"]))
        print(f"ok   {path.name}[{i}] {kind} {doc['apiVersion']}")

print(f"{checked} manifests checked, {failures} problems")
sys.exit(1 if failures or checked == 0 else 0)
