#!/usr/bin/env python3
"""Convert HAR (HTTP Archive 1.2) request entries to actorwatch's corpus jsonl format.

Python 3 standard library only. Each output line has exactly the attack corpus's fields
(see /work/shared/attack-corpus/README.md):

    case, category ("benign"), method, path (path plus raw query string, as the client sent it),
    headers (lower-case names -> string; a repeated name is joined with ", "), body (string).

Rules:
  * HTTP/2 and HTTP/3 pseudo-headers (":method", ":authority", ...) are dropped. When the request
    has no `host` header, one is added from ":authority" or the URL's host, because a proxy
    (Envoy) always sees the authority of the request.
  * The body is `request.postData.text` (empty when absent). When a HAR gives only
    `postData.params` (some exporters do), the params are re-encoded as a form body.
  * Non-HTTP(S) URLs (data:, blob:, chrome-extension:, ws:, wss:) are skipped.
  * Exact duplicates (same method, path, headers and body) are kept once. The header
    comparison ignores volatile headers only for the duplicate check, so the same tracking
    pixel fetched a hundred times with differing `cookie` values still collapses; in addition
    at most --max-per-endpoint (default 10) requests are kept per (method, host, path without
    query), which keeps beacons and image sprites from dominating the corpus.

Usage:
    python3 convert_har.py [--prefix benign-har] [--max-per-endpoint N] OUT.jsonl LABEL=FILE.har ...

LABEL is recorded nowhere in the output (the corpus format has no source field); it is only
used to order the inputs deterministically. Output lines are written in input order
(sorted by LABEL, then HAR entry order), numbered from 1.
"""
import argparse
import json
import sys
import urllib.parse

VOLATILE = {"cookie", "x-request-id", "x-client-data", "if-none-match", "if-modified-since",
            "content-length", "x-amzn-trace-id", "traceparent", "sentry-trace"}


def load_har(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8-sig", errors="replace")  # some exporters write a BOM
    return json.loads(text)


def convert_entry(entry):
    req = entry.get("request") or {}
    url = req.get("url") or ""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return None
    method = (req.get("method") or "GET").upper()
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    headers = {}
    authority = None
    for h in req.get("headers") or []:
        name = str(h.get("name", "")).strip().lower()
        value = str(h.get("value", ""))
        if not name:
            continue
        if name.startswith(":"):
            if name == ":authority":
                authority = value
            continue
        if name in headers:
            headers[name] = headers[name] + ", " + value
        else:
            headers[name] = value
    if "host" not in headers:
        host = authority or parts.netloc.rsplit("@", 1)[-1]
        if host:
            headers["host"] = host
    body = ""
    pd = req.get("postData")
    if isinstance(pd, dict):
        if isinstance(pd.get("text"), str):
            body = pd["text"]
        elif pd.get("params"):
            body = urllib.parse.urlencode(
                [(p.get("name", ""), p.get("value", "")) for p in pd["params"]])
        if "content-type" not in headers and pd.get("mimeType"):
            headers["content-type"] = pd["mimeType"]
    return {"method": method, "path": path, "headers": headers, "body": body}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prefix", default="benign-har")
    ap.add_argument("--max-per-endpoint", type=int, default=10)
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="+", help="LABEL=FILE.har (or just FILE.har)")
    args = ap.parse_args(argv)

    inputs = []
    for spec in args.inputs:
        label, _, path = spec.partition("=")
        if not path:
            label, path = spec, spec
        inputs.append((label, path))
    inputs.sort()

    seen = set()
    per_endpoint = {}
    out = []
    stats = []
    for label, path in inputs:
        try:
            har = load_har(path)
        except (ValueError, OSError) as e:
            print(f"skip {label}: {e}", file=sys.stderr)
            stats.append((label, 0, 0))
            continue
        entries = (har.get("log") or {}).get("entries") or []
        kept = 0
        for entry in entries:
            rec = convert_entry(entry)
            if rec is None:
                continue
            key = json.dumps([rec["method"], rec["path"], rec["body"],
                              sorted((k, v) for k, v in rec["headers"].items()
                                     if k not in VOLATILE)], ensure_ascii=False)
            if key in seen:
                continue
            ep = (rec["method"], rec["headers"].get("host", ""), rec["path"].split("?", 1)[0])
            if per_endpoint.get(ep, 0) >= args.max_per_endpoint:
                continue
            seen.add(key)
            per_endpoint[ep] = per_endpoint.get(ep, 0) + 1
            out.append(rec)
            kept += 1
        stats.append((label, len(entries), kept))

    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for i, rec in enumerate(out, 1):
            line = {"case": f"{args.prefix}-{i:06d}", "category": "benign"}
            line.update(rec)
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    for label, n, kept in stats:
        print(f"{label}\tentries={n}\tkept={kept}", file=sys.stderr)
    print(f"total {len(out)} requests -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
