#!/usr/bin/env python3
"""Runs every panel query of the Grafana dashboard against a Prometheus; fails on any that errs
or returns no data.

    python3 observability/check_dashboard.py --prometheus http://127.0.0.1:9090 \\
        --dashboard observability/grafana/actorwatch-dashboard.json [--instance REGEX]

Each target's `expr` is sent to /api/v1/query (an instant query at the current time) with
`$__rate_interval` (and `$__interval`) replaced by --window, `$__range` by --range and
`$instance` by --instance (a regex, `.*` by default: the dashboard matches it with `=~`).
`${datasource}` is only the panels' data source and is not in any expression. Exit 0 when every
query returned at least one series, 1 otherwise (each failing query listed), 2 on bad input.
Standard library only.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request


def panels(items):
    """Every panel, the ones inside rows (collapsed rows keep theirs in `panels`) included."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels") or [])


def substitute(expr, values):
    """Replaces $name, ${name} and [[name]] (also ${name:format}) with values[name]; an unknown
    variable is left in place, to fail as bad PromQL."""

    def one(match):
        name = match.group("a") or match.group("b") or match.group("c")
        return values.get(name, match.group(0))

    return re.sub(r"\$\{(?P<b>\w+)(?::\w+)?\}|\[\[(?P<c>\w+)\]\]|\$(?P<a>\w+)", one, expr)


def query(prometheus, expr, timeout):
    """The query's result list; raises RuntimeError with Prometheus's error."""
    url = prometheus.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as err:
        try:
            body = json.load(err)
        except ValueError:
            raise RuntimeError(f"HTTP {err.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise RuntimeError(f"request failed: {err}") from None
    if body.get("status") != "success":
        raise RuntimeError(f"{body.get('errorType', 'error')}: {body.get('error', body)}")
    data = body["data"]
    if data["resultType"] in ("scalar", "string"):
        return [data["result"]]
    return data["result"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--dashboard", required=True, help="the dashboard JSON")
    parser.add_argument("--instance", default=".*", help="regex for $instance (default .*)")
    parser.add_argument("--window", default="30s", help="$__rate_interval and $__interval (default 30s)")
    parser.add_argument("--range", default="5m", help="$__range (default 5m)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per query (default 10)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every query and its series count")
    args = parser.parse_args()

    try:
        with open(args.dashboard) as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as err:
        print(f"check_dashboard.py: cannot read {args.dashboard}: {err}", file=sys.stderr)
        return 2

    values = {
        "__rate_interval": args.window,
        "__interval": args.window,
        "__range": args.range,
        "instance": args.instance,
    }
    checked = 0
    failures = []
    for panel in panels(dashboard.get("panels") or []):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            where = f"panel {panel.get('title')!r} target {target.get('refId')}"
            if not expr:
                failures.append(f"{where}: no expr")
                continue
            expr = substitute(expr, values)
            checked += 1
            try:
                result = query(args.prometheus, expr, args.timeout)
            except RuntimeError as err:
                failures.append(f"{where}: error: {err}\n    {expr}")
                continue
            if args.verbose:
                print(f"{len(result):3d} series  {where}")
            if not result:
                failures.append(f"{where}: no data\n    {expr}")

    if checked == 0:
        print("check_dashboard.py: the dashboard has no queries", file=sys.stderr)
        return 2
    if failures:
        print(f"check_dashboard.py: {len(failures)} of {checked} queries failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    print(f"check_dashboard.py: {checked} queries, all returned data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
