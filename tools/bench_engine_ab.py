#!/usr/bin/env python3
"""Two engine versions in one process on the same seeded flow (tools/bench_engine.py),
passes alternating on fresh engines, so a shared machine's load hits both alike.  Prints
commands/s (CPU time) per pass, min / median / max.  Each version runs ``Engine.execute``
(flat-tuple events) when it has one, else ``Engine.apply``.

    git archive <rev> fixexchange | tar -x -C /tmp/before
    python tools/bench_engine_ab.py /tmp/before . [passes] [commands]

Each argument is a directory holding a ``fixexchange`` package.  The commands are rebuilt
with each version's own NamedTuple classes (the engine checks command types by identity).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def load(root):
    """Import ``fixexchange.engine`` from ``root`` (forgetting any other loaded copy)."""
    root = os.path.abspath(root)
    for name in [k for k in sys.modules if k == "fixexchange" or k.startswith("fixexchange.")]:
        del sys.modules[name]
    sys.path.insert(0, root)
    try:
        module = importlib.import_module("fixexchange.engine")
    finally:
        sys.path.remove(root)
    assert os.path.abspath(module.__file__).startswith(root), module.__file__
    return module


def rebuild(flow, src, dst):
    """The same commands built with ``dst``'s classes and enums."""
    classes = {src.NewOrder: dst.NewOrder, src.CancelOrder: dst.CancelOrder,
               src.ReplaceOrder: dst.ReplaceOrder}
    enums = {2: dst.Side, 4: dst.OrdType, 7: dst.TimeInForce, 12: dst.StpMode}
    out = []
    for c in flow:
        fields = list(c)
        if type(c) is src.NewOrder:
            for i, enum in enums.items():
                fields[i] = enum(fields[i])
        out.append(classes[type(c)](*fields))
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        print(__doc__)
        return 2
    passes = int(argv[2]) if len(argv) > 2 else 10
    n = int(argv[3]) if len(argv) > 3 else 1_000_000
    a = load(argv[0])
    b = load(argv[1])
    import bench_engine  # its fixexchange.engine is b (loaded last)

    flow = bench_engine.make_flow(n, 20261127)
    runs = {
        "A": (a, rebuild(flow, b, a), a.SymbolSpec(*bench_engine.SPEC)),
        "B": (b, flow, bench_engine.SPEC),
    }
    rates = {"A": [], "B": []}
    gc.disable()
    for i in range(passes):
        for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
            module, commands, spec = runs[name]
            engine = module.Engine([spec])
            # execute (flat tuples, the daemon's API) where the version has it, else apply
            apply = getattr(engine, "execute", None) or engine.apply
            del engine
            cpu = time.process_time()
            for c in commands:
                apply(c)
            rates[name].append(len(commands) / (time.process_time() - cpu))
            del apply
    for name, path in (("A", argv[0]), ("B", argv[1])):
        r = sorted(rates[name])
        print(f"{name} {path}: min {r[0]:,.0f} median {r[len(r) // 2]:,.0f} max {r[-1]:,.0f} "
              f"commands/s CPU; passes: " + " ".join(f"{x / 1000:.0f}k" for x in rates[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
