#!/usr/bin/env python3
"""Validate actorwatch's OCSF output as OCSF Detection Findings, offline.

Usage:
    validate_ocsf.py [--ocsf-version 1.6.0] FILE [FILE ...]     (FILE may be '-' for stdin)

Each FILE holds one JSON event, a JSON array of events, or JSON lines (one event per line).
Every event must be an OCSF Detection Finding (class_uid 2004, category_uid 2) of activity
Create (activity_id 1, type_uid 200401) whose metadata.version is the pinned OCSF version.

Exit status: 0 when every event is valid; 1 when at least one event is invalid (each failing
event is printed with its reasons on stderr); 2 when the input cannot be read or parsed.

How an event is checked (see README.md beside this file for what is and is not covered):
 1. JSON Schema. `ocsf-json-schema` ships the official OCSF schema exports (one JSON file
    per released OCSF version, as served by schema.ocsf.io/<version>/export/schema) and turns
    the Detection Finding class into a JSON Schema 2020-12 document with every referenced
    object embedded; `jsonschema` validates the event against it. This checks required
    attributes, JSON types, integer enums (severity_id, status_id, observables' type_id, ...),
    string enums (http_method), unknown attributes at every level (additionalProperties is
    false), OCSF type patterns, ranges and lengths (ip_t regex, port_t range, ...) and the
    at_least_one / just_one constraints. Profiles are applied from metadata.profiles, as
    the OCSF schema server does.
 2. Checks that JSON Schema cannot express, done here from the same bundled schema export:
    the Detection Finding / Create identity and the pinned metadata.version; sibling labels
    (severity must be the caption of severity_id, and so on, unless the id is 99 Other);
    integer attributes must be JSON integers (not 4.0); timestamp_t values must be epoch
    milliseconds (10^12 <= t < 10^13, which catches seconds); ip_t values must parse as an
    IPv4/IPv6 address (the schema's regex is loose). Use of a deprecated attribute is
    reported as a warning only.

Nothing here touches the network: both libraries and the schema files come from PyPI at
install time (see requirements.txt).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from functools import lru_cache
from importlib import metadata as importlib_metadata
from typing import Any, Iterable

from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema, get_packaged_versions

# The OCSF version actorwatch emits (metadata.version). Keep in step with the Rust sink.
OCSF_VERSION = "1.6.0"

CLASS_NAME = "detection_finding"
CLASS_UID = 2004
CATEGORY_UID = 2
ACTIVITY_ID = 1  # Create
TYPE_UID = CLASS_UID * 100 + ACTIVITY_ID  # 200401

# Epoch milliseconds between 2001-09-09 and 2286-11-20: a value in seconds (about 1.7e9
# today) or in microseconds (about 1.7e15) falls outside.
MIN_MS = 10**12
MAX_MS = 10**13

INTEGER_BASES = {"integer_t", "long_t"}


class InputError(Exception):
    """The input could not be read or parsed as JSON events."""


# --------------------------------------------------------------------------- input


def read_events(text: str, source: str) -> list[tuple[str, Any]]:
    """Parse one JSON value, a JSON array, or JSON lines. Returns (location, event) pairs."""
    if not text.strip():
        raise InputError(f"{source}: no JSON in input")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as whole_error:
        events = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                events.append((f"{source}:{number}", json.loads(line)))
            except json.JSONDecodeError as line_error:
                if len(events) == 0 and number == 1:
                    # Not JSON lines either: report the error for the whole text.
                    raise InputError(f"{source}: invalid JSON: {whole_error}") from whole_error
                raise InputError(f"{source}:{number}: invalid JSON line: {line_error}") from line_error
        return events
    if isinstance(value, list):
        if not value:
            raise InputError(f"{source}: empty JSON array")
        return [(f"{source}[{index}]", event) for index, event in enumerate(value)]
    return [(source, value)]


# --------------------------------------------------------------------------- schema


@lru_cache(maxsize=None)
def raw_schema(version: str) -> dict:
    if version not in get_packaged_versions():
        raise InputError(
            f"OCSF {version} is not bundled with ocsf-json-schema "
            f"(bundled: {', '.join(sorted(get_packaged_versions()))})"
        )
    return get_ocsf_schema(version)


@lru_cache(maxsize=None)
def class_validator(version: str, profiles: tuple[str, ...]) -> Draft202012Validator:
    schema = OcsfJsonSchemaEmbedded(raw_schema(version)).get_class_schema(CLASS_NAME, list(profiles))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def json_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<event>"


def base_type(schema: dict, type_name: str) -> str:
    """The primitive OCSF type under a named type (ip_t -> string_t, timestamp_t -> long_t)."""
    seen = set()
    # Exports up to 1.7.0 keep named types under "types"; the v2 export (1.8.0) under "dictionary".
    types = schema.get("types") or schema.get("dictionary", {}).get("types", {}).get("attributes", {})
    while type_name in types and types[type_name].get("type") and type_name not in seen:
        seen.add(type_name)
        parent = types[type_name]["type"]
        if parent == type_name:
            break
        type_name = parent
    return type_name


# --------------------------------------------------------------------------- checks


def schema_errors(event: dict, version: str, profiles: tuple[str, ...]) -> list[str]:
    validator = class_validator(version, profiles)
    errors = []
    for error in sorted(validator.iter_errors(event), key=lambda e: list(map(str, e.absolute_path))):
        message = error.message
        if error.validator == "pattern":
            message = f"{error.instance!r} does not match the OCSF pattern of its type"
        if len(message) > 300:
            message = message[:300] + "..."
        errors.append(f"{json_path(error.absolute_path)}: {message} (schema: {error.validator})")
    return errors


def identity_errors(event: dict, version: str) -> list[str]:
    errors = []
    expected = {
        "class_uid": CLASS_UID,
        "category_uid": CATEGORY_UID,
        "activity_id": ACTIVITY_ID,
        "type_uid": TYPE_UID,
    }
    for name, value in expected.items():
        if name in event and event[name] != value:
            errors.append(f"{name}: must be {value} for a Detection Finding of activity Create, got {event[name]!r}")
    meta = event.get("metadata")
    if isinstance(meta, dict) and "version" in meta and meta["version"] != version:
        errors.append(f"metadata.version: must be the pinned OCSF version {version!r}, got {meta['version']!r}")
    return errors


def walk_errors(event: dict, version: str) -> tuple[list[str], list[str]]:
    """Sibling labels, integer literals, millisecond timestamps, IP addresses; deprecations."""
    schema = raw_schema(version)
    objects = schema["objects"]
    errors: list[str] = []
    warnings: list[str] = []

    def check_value(attr: dict, value: Any, path: str) -> None:
        type_name = attr.get("type", "")
        base = base_type(schema, type_name)
        if base in INTEGER_BASES and isinstance(value, float):
            errors.append(f"{path}: must be a JSON integer, got {value!r}")
        if type_name == "timestamp_t" and isinstance(value, int) and not isinstance(value, bool):
            if not MIN_MS <= value < MAX_MS:
                errors.append(
                    f"{path}: timestamp_t must be epoch milliseconds (10^12 <= t < 10^13), got {value} "
                    f"(seconds or microseconds?)"
                )
        if type_name == "ip_t" and isinstance(value, str):
            try:
                ipaddress.ip_address(value)
            except ValueError:
                errors.append(f"{path}: {value!r} is not an IPv4 or IPv6 address")

    def walk(obj: dict, attributes: dict, path: list[Any]) -> None:
        for key, value in obj.items():
            attr = attributes.get(key)
            if attr is None:
                continue  # unknown attributes are reported by the JSON Schema pass
            here = path + [key]
            if "@deprecated" in attr:
                info = attr["@deprecated"]
                warnings.append(
                    f"{json_path(here)}: deprecated since OCSF {info.get('since', '?')}: {info.get('message', '')}".strip()
                )
            sibling = attr.get("sibling")
            enum = attr.get("enum")
            if sibling and enum and sibling in obj and isinstance(value, int) and not isinstance(value, bool):
                caption = enum.get(str(value), {}).get("caption")
                label = obj[sibling]
                if value != 99 and caption is not None and label != caption:
                    errors.append(
                        f"{json_path(path + [sibling])}: must be {caption!r}, the caption of "
                        f"{key}={value}, got {label!r}"
                    )
            values = value if attr.get("is_array") and isinstance(value, list) else [value]
            for index, item in enumerate(values):
                item_path = here + [index] if attr.get("is_array") and isinstance(value, list) else here
                if attr.get("type") == "object_t":
                    target = objects.get(attr.get("object_type", ""), {})
                    if isinstance(item, dict) and target.get("attributes"):
                        walk(item, target["attributes"], item_path)
                else:
                    check_value(attr, item, json_path(item_path))

    walk(event, schema["classes"][CLASS_NAME]["attributes"], [])
    return errors, warnings


def validate_event(event: Any, version: str = OCSF_VERSION) -> tuple[list[str], list[str]]:
    """Returns (errors, warnings) for one event; no errors means valid."""
    if not isinstance(event, dict):
        return [f"<event>: must be a JSON object, got {type(event).__name__}"], []
    profiles: tuple[str, ...] = ()
    meta = event.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("profiles"), list):
        profiles = tuple(sorted(str(p) for p in meta["profiles"]))
    errors = identity_errors(event, version)
    errors += schema_errors(event, version, profiles)
    walked, warnings = walk_errors(event, version)
    errors += walked
    return errors, warnings


# --------------------------------------------------------------------------- CLI


def package_version(name: str) -> str:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSON, JSON array or JSON lines; '-' reads stdin")
    parser.add_argument("--ocsf-version", default=OCSF_VERSION, help=f"OCSF schema version (default {OCSF_VERSION})")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)

    events: list[tuple[str, Any]] = []
    try:
        raw_schema(args.ocsf_version)
        for name in args.files:
            if name == "-":
                text, source = sys.stdin.read(), "<stdin>"
            else:
                try:
                    with open(name, encoding="utf-8") as handle:
                        text = handle.read()
                except OSError as error:
                    raise InputError(f"{name}: cannot read: {error}") from error
                source = name
            events += read_events(text, source)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    failed = 0
    for location, event in events:
        errors, warnings = validate_event(event, args.ocsf_version)
        for warning in warnings:
            print(f"warning: {location}: {warning}", file=sys.stderr)
        if errors:
            failed += 1
            print(f"INVALID {location}: not a valid OCSF {args.ocsf_version} Detection Finding:", file=sys.stderr)
            for error in errors:
                print(f"  - {error}", file=sys.stderr)
            print(f"  event: {json.dumps(event, sort_keys=True)}", file=sys.stderr)

    if failed:
        print(f"{failed} of {len(events)} event(s) invalid", file=sys.stderr)
        return 1
    if not args.quiet:
        print(
            f"OK: {len(events)} event(s) valid OCSF {args.ocsf_version} Detection Finding "
            f"(ocsf-json-schema {package_version('ocsf-json-schema')}, jsonschema {package_version('jsonschema')})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
