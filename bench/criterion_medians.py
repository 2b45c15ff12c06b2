"""Prints {benchmark: median ns per iteration} from criterion's estimates.json files."""
import json, os, sys

root = sys.argv[1]
out = {}
for dirpath, _, files in os.walk(root):
    if "estimates.json" in files and os.path.basename(dirpath) == "new":
        name = os.path.relpath(os.path.dirname(dirpath), root)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            out[name] = json.load(f)["median"]["point_estimate"]
print(json.dumps(out, sort_keys=True))
