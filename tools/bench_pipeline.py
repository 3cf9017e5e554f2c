"""In-process cost of the daemon's pipeline without sockets: session receive_data ->
gateway.on_message -> acceptor.send -> data_to_send, for the fix-load order mix.  Compare
with fix-load's "daemon CPU/order" to see what the asyncio transport adds.

    python tools/bench_pipeline.py [--orders 50000] [--profile] [--stop-after LAYER]

``--stop-after`` runs only the first layers (parse: FixParser.feed; validate: + FIX44.validate;
session: Connection.receive_data, which parses and validates; gateway: + Gateway.on_message,
no encoding or store), for tools/count_instructions.py to tell the layers' costs apart.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import time

from fixexchange.cli.load import MIXES, Session, build_flow
from fixexchange.codec import FIX44, FixParser
from fixexchange.server.config import DEFAULT_CONFIG_PATH, load_config
from fixexchange.server.main import build, tune_gc
from fixexchange.session.events import ApplicationMessage


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=50000)
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--default-gc", action="store_true", help="keep CPython's GC thresholds (the daemon raises them)")
    ap.add_argument("--stop-after", choices=("flow", "parse", "validate", "session", "gateway"), default=None,
                    help="run only the layers up to this one (flow: build the requests, run nothing)")
    ap.add_argument("--file-store", action="store_true",
                    help="journal to file stores in a temporary directory, as the daemon does (default: memory)")
    args = ap.parse_args()
    if args.orders < 1 or args.chunk < 1:
        ap.error("--orders and --chunk must be at least 1")
    import dataclasses
    import tempfile
    cfg = load_config(DEFAULT_CONFIG_PATH)
    if args.file_store:
        store_dir = tempfile.mkdtemp(prefix="bench-pipeline-")
        cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server, store="file", store_dir=store_dir))
    else:
        cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server, store="memory"))
    acceptor, gateway = build(cfg)
    if not args.default_gc:
        tune_gc()

    async def mk():
        return Session("CLIENT1", "FIXEXCH", "pass1", 30)
    sess = asyncio.run(mk())
    now = time.time()
    conn = acceptor.connection_made(now)
    logon = sess.encode(b"A", [(98, 0), (108, 30), (141, b"Y"), (554, b"pass1")])
    conn.receive_data(logon, now)
    conn.data_to_send()
    blob, offs = build_flow(sess, args.orders, ["SYM1"], random.Random(1), MIXES["default"], sess.seq, "B")
    chunks = [blob[i:i + args.chunk] for i in range(0, len(blob), args.chunk)]
    send = acceptor.send
    on_message = gateway.on_message
    out_bytes = 0

    def run_layers(stop_after):
        if stop_after in ("parse", "validate"):
            parser = FixParser(hot_shapes=FIX44.hot_shapes)
            validate = FIX44.validate if stop_after == "validate" else None
            for ch in chunks:
                for message in parser.feed(ch):
                    if validate is not None:
                        validate(message)
        elif stop_after == "session":
            for ch in chunks:
                conn.receive_data(ch, now)
        elif stop_after == "gateway":
            for ch in chunks:
                t = time.time()
                for ev in conn.receive_data(ch, t):
                    if type(ev) is ApplicationMessage:
                        on_message(ev.session_id, ev.message, t)

    def run():
        nonlocal out_bytes
        if args.stop_after is not None:
            run_layers(args.stop_after)
            return
        for ch in chunks:
            t = time.time()
            for ev in conn.receive_data(ch, t):
                if type(ev) is ApplicationMessage:
                    for o in on_message(ev.session_id, ev.message, t):
                        send(o.session_id, o.msg_type, o.body, t, not o.market_data)
            out_bytes += len(conn.data_to_send())

    t0 = time.process_time()
    if args.profile:
        pr = cProfile.Profile()
        pr.runcall(run)
        st = pstats.Stats(pr)
        st.sort_stats("tottime").print_stats(25)
        layers: dict[str, float] = {}
        for (file, _, _), (_, _, tottime, _, _) in st.stats.items():  # type: ignore[attr-defined]
            layer = "other (builtins, C calls)"
            for name in ("codec", "session", "gateway", "engine", "server"):
                if f"/fixexchange/{name}/" in file:
                    layer = name
            layers[layer] = layers.get(layer, 0.0) + tottime
        total = sum(layers.values())
        print("own time by layer (cProfile, C calls counted under 'other'):")
        for name, t in sorted(layers.items(), key=lambda kv: -kv[1]):
            print(f"  {name:28s} {t / total * 100:5.1f}%")
    else:
        run()
    cpu = time.process_time() - t0
    if args.file_store:
        acceptor.close()
        import shutil
        shutil.rmtree(store_dir, ignore_errors=True)
    if args.stop_after is not None:
        print(f"{args.orders} requests: {cpu / args.orders * 1e6:.1f} us CPU/request in-process, "
              f"layers up to {args.stop_after}")
        return
    print(f"{args.orders} requests: {cpu / args.orders * 1e6:.1f} us CPU/request in-process "
          f"(session+gateway+engine+codec, no sockets), {out_bytes / 1e6:.1f} MB out")


if __name__ == "__main__":
    main()
