#!/usr/bin/env bash
# Checks the Prometheus rules offline: `promtool check rules` and `promtool test rules`, then
# that the PrometheusRule's groups equal the rules file's (check_prometheusrule.py, PyYAML) and
# that the dashboard is JSON. promtool from $PROMTOOL, else PATH (Debian: apt-get install
# prometheus); python (with PyYAML: make test gives the one of .tools/venv) from $PYTHON, else
# python3.
set -euo pipefail
cd "$(dirname "$0")"

PROMTOOL="${PROMTOOL:-$(command -v promtool || true)}"
if [[ -z "$PROMTOOL" || ! -x "$PROMTOOL" ]]; then
    echo "check.sh: promtool not found: set PROMTOOL or install it (apt-get install prometheus)" >&2
    exit 1
fi
PYTHON="${PYTHON:-python3}"

"$PROMTOOL" --version 2>&1 | head -n 1
"$PROMTOOL" check rules prometheus/actorwatch-rules.yml
# The test file names its rule file relative to itself.
(cd prometheus && "$PROMTOOL" test rules actorwatch-rules.test.yml)

"$PYTHON" check_prometheusrule.py
"$PYTHON" -c "import json, sys; json.load(open(sys.argv[1]))" grafana/actorwatch-dashboard.json
echo "check.sh: OK"
