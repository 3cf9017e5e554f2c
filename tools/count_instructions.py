#!/usr/bin/env python3
"""Machine instructions per request of the in-process pipeline, layer by layer (valgrind).

This VM's wall-clock speed swings by +-25% from one run to the next; instruction counts do
not, so they tell a 3% change apart where timings cannot.  Runs ``bench_pipeline.py`` under
``valgrind --tool=cachegrind`` for two run lengths per layer: the difference divided by the
extra requests cancels start-up and the client-side flow building.

    python3 tools/count_instructions.py [--orders 5000] [--more 10000] [--layers all]

Needs valgrind (Debian/Ubuntu: apt-get install valgrind); several minutes.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# (parse alone is available but not in the chain: validation registers the shapes the
# parser then splits and checks in one regular expression, so parse + validate can cost
# less than parse without validate)
LAYERS = ("flow", "validate", "session", "gateway", "full")
WHAT = {"validate": "FixParser.feed + FIX44.validate", "session": "session checks (Connection)",
        "gateway": "gateway + engine", "full": "encode, store, queue (Acceptor.send, data_to_send)"}
BENCH = Path(__file__).with_name("bench_pipeline.py")


def instructions(python: str, orders: int, layer: str) -> int:
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           python, str(BENCH), "--orders", str(orders)]
    if layer != "full":
        cmd += ["--stop-after", layer]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", result.stderr)
    if found is None:
        raise SystemExit(f"count_instructions: no instruction count in valgrind's output:\n{result.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=5000, help="the shorter run")
    ap.add_argument("--more", type=int, default=10000, help="extra requests of the longer run")
    ap.add_argument("--layers", default="all", help="comma-separated, of " + ",".join(LAYERS))
    args = ap.parse_args()
    if args.orders < 1 or args.more < 1:
        ap.error("--orders and --more must be at least 1")
    layers = LAYERS if args.layers == "all" else tuple(args.layers.split(","))
    if not set(layers) <= set(LAYERS) | {"parse"}:
        ap.error(f"--layers: choose from parse,{','.join(LAYERS)}")
    if shutil.which("valgrind") is None:
        print("count_instructions: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    # valgrind must run the interpreter binary itself, not a launcher script (pyenv's shims)
    python = os.path.realpath(sys.executable)
    previous = previous_layer = None
    for layer in layers:
        per_request = (instructions(python, args.orders + args.more, layer)
                       - instructions(python, args.orders, layer)) // args.more
        if layer == "flow":
            print(f"{'flow':9s} {per_request:9,d} instructions/request (the client's requests, built in-process)")
        else:
            adjacent = (previous_layer in LAYERS and layer in LAYERS
                        and LAYERS.index(previous_layer) == LAYERS.index(layer) - 1)
            # (session parses and validates itself: its step is the session's own checks)
            added = f"  (+{per_request - previous:,d} {WHAT[layer]})" if adjacent else ""
            print(f"{layer:9s} {per_request:9,d} instructions/request{added}", flush=True)
        previous, previous_layer = per_request, layer
    return 0


if __name__ == "__main__":
    sys.exit(main())
