"""Runs a command (output discarded) and writes "<wall seconds> <peak RSS KiB>" to a file."""
import resource, subprocess, sys, time

start = time.monotonic()
subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
wall = time.monotonic() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as f:
    f.write(f"{wall:.3f} {peak_kib}\n")
