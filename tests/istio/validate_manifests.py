"""Validates the shipped Istio manifests against Istio's CRD schemas (../shared/istio), plus the
x-kubernetes-validations CEL rules of those schemas, checked by hand below, and checks that no
shipped manifest carries a secret: the WasmPlugin names its secrets ({"env": "NAME"}) and passes
them from the proxy's environment (vmConfig.env, valueFrom: HOST)."""
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
        env = spec.get("vmConfig", {}).get("env", [])
        for e in env:
            if e.get("valueFrom") == "HOST" and "value" in e:
                yield f"vmConfig.env {e.get('name')}: value may only be set when valueFrom is INLINE"
        names = [e.get("name") for e in env]
        if len(names) != len(set(names)):
            yield "vmConfig.env names must be unique (list-type map keyed by name)"
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


# Header names whose values are credentials (actorwatch_core::config::is_credential_header).
CREDENTIAL_PARTS = ("auth", "token", "key", "secret", "session", "password", "credential", "cookie")


def secret_problems(kind, doc):
    """Secrets written into a manifest, and named secrets the VM would never see."""
    if kind == "Secret" and (doc.get("data") or doc.get("stringData")):
        yield "a Secret with data: create it with kubectl, never ship it"
    if kind != "WasmPlugin":
        return
    spec = doc.get("spec", {})
    webhook = spec.get("pluginConfig", {}).get("webhook", {})
    fleet = spec.get("pluginConfig", {}).get("fleet", {})
    named = []
    secrets = [("webhook.hmac_secret", webhook.get("hmac_secret")), ("fleet.hmac_secret", fleet.get("hmac_secret"))]
    for name, value in (webhook.get("headers") or {}).items():
        if isinstance(value, dict) or any(p in name.lower() for p in CREDENTIAL_PARTS):
            secrets.append((f"webhook.headers.{name}", value))
    for key, value in secrets:
        if isinstance(value, str):
            yield f"pluginConfig {key} is written inline: use {{\"env\": \"NAME\"}}"
        elif isinstance(value, dict) and isinstance(value.get("env"), str):
            named.append((key, value["env"]))
    passed = {e.get("name"): e for e in spec.get("vmConfig", {}).get("env", [])}
    for key, name in named:
        e = passed.get(name)
        if e is None:
            yield f"pluginConfig {key} names {name}, which vmConfig.env does not pass to the VM"
        elif e.get("valueFrom") != "HOST":
            yield f"vmConfig.env {name} must be valueFrom: HOST (an inline value is in the resource and the config dump)"


def bootstrap_patch_problems(kind, doc):
    """An EnvoyFilter's bootstrap patch must carry exactly the tag extraction envoy/envoy.yaml
    has (the one the Envoy tests run with), so that Istio's proxies label what Envoy's do."""
    if kind != "EnvoyFilter":
        return
    shipped = yaml.safe_load((root / "envoy" / "envoy.yaml").read_text())["stats_config"]
    for patch in doc.get("spec", {}).get("configPatches", []):
        if patch.get("applyTo") != "BOOTSTRAP":
            yield f"applyTo {patch.get('applyTo')}: only BOOTSTRAP patches are shipped"
            continue
        if patch.get("patch", {}).get("operation") != "MERGE":
            yield "a bootstrap patch must MERGE"
        value = patch.get("patch", {}).get("value", {})
        if value.get("stats_config") != shipped:
            yield f"stats_config {value.get('stats_config')} differs from envoy/envoy.yaml's {shipped}"


for path in sorted((root / "envoy" / "istio").glob("*.yaml")):
    for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
        if not doc:
            continue
        kind, version = doc["kind"], doc["apiVersion"].split("/")[-1]
        for problem in secret_problems(kind, doc):
            fail(f"{path.name}[{i}] {kind}: {problem}")
        for problem in bootstrap_patch_problems(kind, doc):
            fail(f"{path.name}[{i}] {kind}: {problem}")
        if kind == "EnvoyFilter":
            checked += 1
            print(f"ok   {path.name}[{i}] {kind}: its bootstrap patch is envoy/envoy.yaml's stats_config")
            continue
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
