#!/usr/bin/env python3
"""Checks that the PrometheusRule's spec.groups equal the rules file's groups exactly.

    python3 observability/check_prometheusrule.py            # exit 1 on any difference
    python3 observability/check_prometheusrule.py --write    # rewrite the PrometheusRule

--write lays the rules file (comments dropped) under the PrometheusRule's header as text, so
that multi-line expressions stay block scalars. Needs PyYAML (make setup-python's venv has it).
"""

import argparse
import difflib
import json
import sys
from pathlib import Path

try:
    import yaml
except ImportError:
    sys.exit("check_prometheusrule.py: PyYAML is needed (pip install PyYAML, or use a venv that has it)")

HERE = Path(__file__).resolve().parent
RULES = HERE / "prometheus" / "actorwatch-rules.yml"
PROMETHEUS_RULE = HERE / "kubernetes" / "prometheusrule.yaml"

HEADER = """\
# The alerting rules of observability/prometheus/actorwatch-rules.yml for the Prometheus
# Operator. Generated: edit the rules file, then `python3 observability/check_prometheusrule.py
# --write`; check_prometheusrule.py (observability/check.sh) fails when the two differ.
# Add the labels your Prometheus's ruleSelector matches (e.g. `release: prometheus`).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: actorwatch
  labels:
    app.kubernetes.io/name: actorwatch
    app.kubernetes.io/component: alerting-rules
spec:
"""


def render() -> str:
    """The PrometheusRule: HEADER, then the rules file's lines (no comments) two spaces in."""
    lines = []
    for line in RULES.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        lines.append("  " + line)
    return HEADER + "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the PrometheusRule from the rules file")
    args = parser.parse_args()

    rules = yaml.safe_load(RULES.read_text())
    if args.write:
        text = render()
        if yaml.safe_load(text)["spec"]["groups"] != rules["groups"]:
            print("check_prometheusrule.py: the rendered PrometheusRule would differ; not written", file=sys.stderr)
            return 1
        PROMETHEUS_RULE.write_text(text)
        print(f"wrote {PROMETHEUS_RULE.relative_to(HERE.parent)}")

    doc = yaml.safe_load(PROMETHEUS_RULE.read_text())
    problems = []
    if doc.get("apiVersion") != "monitoring.coreos.com/v1":
        problems.append(f"apiVersion is {doc.get('apiVersion')!r}, not 'monitoring.coreos.com/v1'")
    if doc.get("kind") != "PrometheusRule":
        problems.append(f"kind is {doc.get('kind')!r}, not 'PrometheusRule'")
    if set(rules) != {"groups"}:
        problems.append(f"the rules file has keys other than groups: {sorted(rules)}")
    groups = (doc.get("spec") or {}).get("groups")
    if groups != rules.get("groups"):
        want = json.dumps(rules.get("groups"), indent=1, sort_keys=True).splitlines()
        got = json.dumps(groups, indent=1, sort_keys=True).splitlines()
        diff = "\n".join(difflib.unified_diff(want, got, str(RULES.name), str(PROMETHEUS_RULE.name), lineterm=""))
        problems.append("spec.groups differ from the rules file's groups:\n" + diff)
    if problems:
        for problem in problems:
            print(f"check_prometheusrule.py: {problem}", file=sys.stderr)
        print("check_prometheusrule.py: run it with --write after editing the rules file", file=sys.stderr)
        return 1
    names = [rule.get("alert") or rule.get("record") for group in groups for rule in group["rules"]]
    print(f"check_prometheusrule.py: {PROMETHEUS_RULE.name} matches {RULES.name} ({len(groups)} group(s), {len(names)} rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
