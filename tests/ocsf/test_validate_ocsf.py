#!/usr/bin/env python3
"""Shows that validate_ocsf.py accepts the hand-written sample and rejects broken copies.

Plain Python, no test framework: `python3 tests/ocsf/test_validate_ocsf.py` with the packages
of requirements.txt installed. Prints one line per test and ends with 'ocsf: N passed, N failed';
exits non-zero when a test fails.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import validate_ocsf  # noqa: E402

VALIDATOR = os.path.join(HERE, "validate_ocsf.py")
SAMPLE_PATH = os.path.join(HERE, "sample_detection_finding.json")
with open(SAMPLE_PATH, encoding="utf-8") as handle:
    SAMPLE = json.load(handle)


def sample() -> dict:
    return copy.deepcopy(SAMPLE)


def errors_of(event, version: str = validate_ocsf.OCSF_VERSION) -> list[str]:
    return validate_ocsf.validate_event(event, version)[0]


def assert_rejected(event, *needles: str, version: str = validate_ocsf.OCSF_VERSION) -> list[str]:
    errors = errors_of(event, version)
    assert errors, "expected the event to be rejected, it was accepted"
    text = "\n".join(errors)
    for needle in needles:
        assert needle in text, f"expected {needle!r} in the reasons:\n{text}"
    return errors


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, VALIDATOR, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_temp(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


# --------------------------------------------------------------------------- the sample


def test_sample_is_valid():
    errors, warnings = validate_ocsf.validate_event(sample())
    assert errors == [], errors
    assert warnings == [], warnings


def test_sample_is_what_the_brief_asks_for():
    event = sample()
    assert (event["class_uid"], event["category_uid"], event["activity_id"], event["type_uid"]) == (2004, 2, 1, 200401)
    assert event["metadata"]["version"] == validate_ocsf.OCSF_VERSION
    assert event["metadata"]["product"]["name"] == "actorwatch"
    assert event["metadata"]["product"]["vendor_name"] == "actorwatch"
    attack = event["finding_info"]["attacks"][0]
    assert attack["technique"] == {"uid": "T1190", "name": "Exploit Public-Facing Application"}
    assert attack["tactic"]["uid"] == "TA0001"
    assert event["finding_info"]["analytic"]["uid"] == "SQLInjection"
    assert event["time"] >= 10**12, "time must be epoch milliseconds"
    evidence = event["evidences"][0]
    assert evidence["src_endpoint"]["ip"] == "203.0.113.7"
    assert set(evidence["http_request"]) >= {"http_method", "url", "user_agent"}
    assert set(evidence["http_request"]["url"]) >= {"path", "hostname"}


def test_sample_cli_exit_0():
    result = run_cli(SAMPLE_PATH)
    assert result.returncode == 0, result.stderr
    assert "OK: 1 event(s) valid OCSF 1.6.0 Detection Finding" in result.stdout, result.stdout


def test_sample_valid_from_ocsf_1_4_0_on_and_not_before():
    # The same event, relabelled, is valid in every bundled version from 1.4.0 (where
    # evidences.http_request and is_alert appeared) to the newest bundled one.
    for version in ("1.4.0", "1.5.0", "1.6.0", "1.7.0", "1.8.0"):
        event = sample()
        event["metadata"]["version"] = version
        assert errors_of(event, version) == [], (version, errors_of(event, version))
    event = sample()
    event["metadata"]["version"] = "1.3.0"
    assert_rejected(event, "'is_alert' was unexpected", "'http_request' was unexpected", version="1.3.0")


# --------------------------------------------------------------------------- broken copies


def test_missing_finding_info():
    event = sample()
    del event["finding_info"]
    assert_rejected(event, "'finding_info' is a required property")


def test_missing_nested_required():
    event = sample()
    del event["metadata"]["product"]
    assert_rejected(event, "metadata: 'product' is a required property")
    event = sample()
    del event["finding_info"]["analytic"]["type_id"]
    assert_rejected(event, "finding_info.analytic: 'type_id' is a required property")
    event = sample()
    del event["finding_info"]["uid"]
    assert_rejected(event, "finding_info: 'uid' is a required property")


def test_severity_id_wrong_type():
    for bad in ("High", "4", True):
        event = sample()
        event["severity_id"] = bad
        assert_rejected(event, "severity_id:", "is not of type 'integer'")
    event = sample()
    event["severity_id"] = 4.0
    assert_rejected(event, "severity_id: must be a JSON integer, got 4.0")


def test_severity_id_outside_enum():
    event = sample()
    event["severity_id"] = 7
    event.pop("severity")
    assert_rejected(event, "severity_id: 7 is not one of")


def test_sibling_label_must_match_id():
    event = sample()
    event["severity"] = "Critical"
    assert_rejected(event, "severity: must be 'High', the caption of severity_id=4")
    event = sample()
    event["observables"][0]["type"] = "Hostname"
    assert_rejected(event, "observables[0].type: must be 'IP Address'")
    event = sample()
    event["severity_id"], event["severity"] = 99, "Vendor-specific"
    assert errors_of(event) == [], "99 (Other) allows any label"


def test_unknown_attributes():
    event = sample()
    event["src_endpoint"] = {"ip": "203.0.113.7"}  # belongs in evidences[], not at the top
    assert_rejected(event, "'src_endpoint' was unexpected")
    event = sample()
    event["finding_info"]["rule"] = "SQLInjection"
    assert_rejected(event, "finding_info: Additional properties are not allowed ('rule' was unexpected)")
    event = sample()
    event["evidences"][0]["http_request"]["url"]["query"] = "id=1"
    assert_rejected(event, "evidences[0].http_request.url: Additional properties are not allowed")


def test_profile_attributes_need_metadata_profiles():
    event = sample()
    event["attacks"] = copy.deepcopy(event["finding_info"]["attacks"])
    assert_rejected(event, "'attacks' was unexpected")
    event["metadata"]["profiles"] = ["security_control"]
    assert errors_of(event) == [], errors_of(event)


def test_wrong_class_activity_or_version():
    event = sample()
    event["class_uid"] = 2001
    assert_rejected(event, "class_uid: must be 2004")
    event = sample()
    event.update(activity_id=2, activity_name="Update", type_uid=200402, type_name="Detection Finding: Update")
    assert_rejected(event, "activity_id: must be 1", "type_uid: must be 200401")
    event = sample()
    event["type_uid"] = 200402
    assert_rejected(event, "type_uid: must be 200401")
    event = sample()
    event["metadata"]["version"] = "1.4.0"
    assert_rejected(event, "metadata.version: must be the pinned OCSF version '1.6.0'")


def test_time_in_seconds_is_rejected():
    event = sample()
    event["time"] = 1781519412
    assert_rejected(event, "time: timestamp_t must be epoch milliseconds")
    event = sample()
    event["finding_info"]["created_time"] = 1781519412
    assert_rejected(event, "finding_info.created_time: timestamp_t must be epoch milliseconds")


def test_ip_addresses():
    event = sample()
    event["evidences"][0]["src_endpoint"]["ip"] = "2001:db8::7"
    event["observables"][0]["value"] = "2001:db8::7"
    assert errors_of(event) == [], "IPv6 is valid"
    for bad in ("2001", "203.0.113", "203.0.113.7:51234"):
        event = sample()
        event["evidences"][0]["src_endpoint"]["ip"] = bad
        assert_rejected(event, "evidences[0].src_endpoint.ip:")


def test_string_enum_and_ranges():
    event = sample()
    event["evidences"][0]["http_request"]["http_method"] = "FOO"
    assert_rejected(event, "http_method: 'FOO' is not one of")
    event = sample()
    event["evidences"][0]["src_endpoint"]["port"] = 70000
    assert_rejected(event, "port: 70000 is greater than the maximum of 65535")


def test_null_is_rejected():
    event = sample()
    event["message"] = None
    assert_rejected(event, "message: None is not of type 'string'")


def test_evidence_needs_one_of_its_primary_attributes():
    event = sample()
    evidence = event["evidences"][0]
    del evidence["src_endpoint"], evidence["data"]  # http_request alone does not satisfy at_least_one
    assert_rejected(event, "evidences[0]:")


def test_deprecated_attribute_is_only_a_warning():
    event = sample()
    event["finding_info"]["attacks"][0]["tactics"] = [{"uid": "TA0001", "name": "Initial Access"}]
    errors, warnings = validate_ocsf.validate_event(event)
    assert errors == [], errors
    assert any("tactics: deprecated since OCSF 1.1.0" in w for w in warnings), warnings


def test_not_an_object():
    assert_rejected([sample()], "must be a JSON object")


# --------------------------------------------------------------------------- CLI and input forms


def test_cli_array_reports_the_failing_event():
    broken = sample()
    del broken["finding_info"]
    with tempfile.TemporaryDirectory() as directory:
        path = write_temp(directory, "events.json", json.dumps([sample(), broken]))
        result = run_cli(path)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert f"INVALID {path}[1]" in result.stderr, result.stderr
    assert f"INVALID {path}[0]" not in result.stderr, result.stderr
    assert "'finding_info' is a required property" in result.stderr, result.stderr
    assert '"class_uid": 2004' in result.stderr, "the failing event is printed"
    assert "1 of 2 event(s) invalid" in result.stderr, result.stderr


def test_cli_json_lines_and_stdin():
    lines = "\n".join(json.dumps(sample()) for _ in range(3)) + "\n\n"
    with tempfile.TemporaryDirectory() as directory:
        path = write_temp(directory, "events.jsonl", lines)
        result = run_cli(path)
    assert result.returncode == 0, result.stderr
    assert "OK: 3 event(s)" in result.stdout, result.stdout
    broken = sample()
    broken["severity_id"] = "High"
    result = run_cli("-", stdin=json.dumps(sample()) + "\n" + json.dumps(broken) + "\n")
    assert result.returncode == 1, result.stderr
    assert "INVALID <stdin>:2" in result.stderr, result.stderr


def test_cli_unreadable_input_exits_2():
    with tempfile.TemporaryDirectory() as directory:
        empty = write_temp(directory, "empty.json", "  \n")
        garbage = write_temp(directory, "garbage.json", "{not json")
        bad_line = write_temp(directory, "bad_line.jsonl", json.dumps(sample()) + "\n{oops\n")
        for path, needle in ((empty, "no JSON"), (garbage, "invalid JSON"), (bad_line, "bad_line.jsonl:2")):
            result = run_cli(path)
            assert result.returncode == 2, (path, result.returncode, result.stderr)
            assert needle in result.stderr, result.stderr
        result = run_cli("--ocsf-version", "9.9.9", SAMPLE_PATH)
        assert result.returncode == 2 and "not bundled" in result.stderr, result.stderr


# --------------------------------------------------------------------------- runner


def main() -> int:
    tests = [(name, fn) for name, fn in globals().items() if name.startswith("test_") and callable(fn)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
        except Exception:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"ocsf: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
