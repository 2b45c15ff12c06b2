#!/usr/bin/env python3
"""check_imports.py on small trees of its own: each fault it must catch, and a clean tree.

    python3 filter/core/test_check_imports.py
"""

import pathlib
import subprocess
import sys
import tempfile

CHECK = pathlib.Path(__file__).resolve().parent / "check_imports.py"


def run(files):
    with tempfile.TemporaryDirectory() as root:
        for name, text in files.items():
            path = pathlib.Path(root, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        done = subprocess.run([sys.executable, CHECK, root], capture_output=True, text=True)
        return done.returncode, done.stdout + done.stderr


CLEAN = {
    "lib.rs": "mod base;\nuse crate::drive::engine::Engine;\n",
    "base/hex.rs": "//! Hex.\n",
    "model/actor.rs": "use crate::base::hex::encode;\n",
    "count/table.rs": "use crate::model::actor::ActorKey;\nuse crate::count::window::Rings;\n",
    "count/window.rs": "use crate::base::hex::encode;\n",
    "drive/engine.rs": "use crate::count::table::Table;\nuse crate::deliver::outbox::Outbox;\n",
}


def expect(name, files, rc, needle):
    got_rc, out = run(files)
    if got_rc != rc or needle not in out:
        print(f"FAIL {name}: exit {got_rc}, output:\n{out}")
        return False
    print(f"ok   {name}")
    return True


def main():
    cases = [
        ("a clean tree passes", CLEAN, 0, "no upward import, no circle"),
        ("an upward import fails", {**CLEAN, "base/hex.rs": "use crate::model::actor::ActorKey;\n"}, 1,
         "base/hex.rs:1: base imports model (upward)"),
        ("a sideways import fails", {**CLEAN, "count/window.rs": "use crate::deliver::outbox::Outbox;\n"}, 1,
         "count imports deliver (sideways)"),
        ("a circle within a layer fails", {**CLEAN, "count/window.rs": "use crate::count::table::Table;\n"}, 1,
         "a circle through count::table, count::window"),
        ("a test module may reach anywhere", {**CLEAN, "base/hex.rs": "#[cfg(test)]\nuse crate::drive::engine::Engine;\n"}, 0,
         "no circle"),
        ("a folder that is no layer fails", {**CLEAN, "misc/x.rs": "\n"}, 1, "is not a layer"),
        ("a long file without a reason fails", {**CLEAN, "base/hex.rs": "//! Hex.\n" + "\n" * 501}, 1,
         "and no reason at its top"),
        ("a long file with its reason passes",
         {**CLEAN, "base/hex.rs": "//! Hex.\n//! One file of about 500 lines: one table.\n" + "\n" * 501}, 0, "no circle"),
    ]
    results = [expect(*case) for case in cases]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
