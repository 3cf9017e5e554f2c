"""The hardening figures of README "Security and limits", measured against a real daemon
process over loopback (each case starts its own, from the bundled config with overrides).

    python tools/bench_hardening.py [--pin] [flood] [bruteforce] [fairness] [heartbeats] [throughput]

flood       2,000 idle sockets from 200 loopback addresses (10 each) plus an attacker refilling
            them, then 50 logons of configured sessions: how many get in, how long each takes;
            20,000 refused connections from one address: bytes of log written.
bruteforce  wrong passwords for CLIENT1 for 10 s: from one address over 50 parallel
            connections, then from 50 addresses: passwords checked per second, answers per second.
fairness    a victim's window-1 round trips (fix-load --window 1) alone and while another session
            pipelines crossing orders with no window as fast as it can write: p50/p99, with
            server.max_messages_per_turn 32 and 1,000,000 (64 KB reads, the old way).
heartbeats  9,000 Heartbeats of 60 KB numbered past a sequence gap (reconnecting when logged
            out): the daemon's RSS before and its peak after.
throughput  fix-load's default run (window 200) with max_messages_per_turn 32 and 1,000,000.
"""
from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# --pin: the daemon on CPU 0, the clients on CPU 1 (taskset), so that they do not take turns
# on one core with it (what the fairness figures are about is the daemon's own scheduling)
PIN = "--pin" in sys.argv
PIN_DAEMON = ["taskset", "-c", "0"] if PIN else []
PIN_CLIENTS = ["taskset", "-c", "1"] if PIN else []
sys.path.insert(0, str(ROOT / "tests" / "server"))
from loopback import idle_sockets, loopback_sources  # noqa: E402  (shared with the tests)

ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


class Daemon:
    def __init__(self, **server) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-hardening-"))
        text = (ROOT / "config" / "exchange.toml").read_text()
        for key, value in server.items():
            text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value!r}".replace("'", '"'), text)
            if not n:
                text = text.replace("[server]\n", f"[server]\n{key} = {value!r}\n".replace("'", '"'), 1)
        (self.dir / "ex.toml").write_text(text)
        self.proc = subprocess.Popen(
            PIN_DAEMON + [sys.executable, "-m", "fixexchange.server.main", "-c", str(self.dir / "ex.toml"), "--port", "0",
             "--memory-store", "--log-level", "INFO"],
            cwd=self.dir, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        self.port = int(re.search(r"listening on [^:]+:(\d+)", line)[1])

    def rss_mb(self, key: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def log_bytes(self) -> int:
        p = self.dir / "var" / "log" / "fixexchange.log"
        return p.stat().st_size if p.exists() else 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def fix(msg_type: str, fields: list, sender: str, seq: int) -> bytes:
    body = f"35={msg_type}\x0149={sender}\x0156=FIXEXCH\x0134={seq}\x0152=" + \
        time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()) + ".000\x01" + \
        "".join(f"{t}={v}\x01" for t, v in fields)
    head = f"8=FIX.4.4\x019={len(body)}\x01" + body
    return (head + f"10={sum(head.encode()) % 256:03d}\x01").encode()


def logon_bytes(sender: str, password: str) -> bytes:
    return fix("A", [(98, 0), (108, 30), (141, "Y"), (554, password)], sender, 1)


async def logon(port: int, sender: str, password: str, source: str | None = None,
                timeout: float = 10.0) -> tuple[bytes, float]:
    """(the answer's MsgType and Text, seconds) of one Logon."""
    start = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        "127.0.0.1", port, local_addr=(source, 0) if source else None), timeout)
    try:
        writer.write(logon_bytes(sender, password))
        data = b""
        while b"\x0110=" not in data:
            chunk = await asyncio.wait_for(reader.read(4096), timeout)
            if not chunk:
                return b"closed", time.perf_counter() - start
            data += chunk
        kind = re.search(rb"\x0135=([^\x01]*)", data)[1]
        text = re.search(rb"\x0158=([^\x01]*)", data)
        return kind + (b" " + text[1] if text else b""), time.perf_counter() - start
    finally:
        writer.close()


# ------------------------------------------------------------------------------------ cases

def flood() -> None:
    for pause in (0.01, 0.001):
        flood_at(pause)


def flood_at(pause: float) -> None:
    """The attacker opens 100 idle sockets from 10 addresses, then sleeps ``pause`` s."""
    d = Daemon()
    try:
        socks = idle_sockets(d.port, loopback_sources(200), 10)
        time.sleep(1.0)
        stop = threading.Event()

        def refill() -> None:  # the attacker: new idle sockets as fast as it can
            i = 0
            while not stop.is_set():
                socks.extend(idle_sockets(d.port, loopback_sources(10, 300 + (i % 40) * 10), 10))
                i += 1
                time.sleep(pause)
                if len(socks) > 12_000:
                    for s in socks[:5000]:
                        s.close()
                    del socks[:5000]

        t = threading.Thread(target=refill, daemon=True)
        t.start()

        async def logons() -> list[tuple[bytes, float]]:
            out = []
            for i in range(50):
                name, pw = [("CLIENT1", "pass1"), ("CLIENT2", "pass2"), ("CLIENT3", "pass3")][i % 3]
                start = time.perf_counter()
                try:
                    out.append(await logon(d.port, name, pw))
                except (OSError, asyncio.TimeoutError) as e:  # dropped to make room, or refused
                    out.append((type(e).__name__.encode(), time.perf_counter() - start))
            return out

        results = asyncio.run(logons())
        stop.set()
        t.join()
        attempts = len(socks)
        ok = [s for kind, s in results if kind.startswith(b"A")] or [float("nan")]
        print(f"flood: 2,000 idle sockets from 200 addresses + an attacker opening 100 more every "
              f"{pause * 1000:g} ms ({attempts} sockets opened): {len(ok)}/50 logons succeeded, slowest "
              f"{max(ok) * 1000:.0f} ms, median {sorted(ok)[len(ok) // 2] * 1000:.1f} ms; failures: "
              f"{sorted(set(k.decode() for k, _ in results if not k.startswith(b'A')))}")
        if pause != 0.01:
            return
        for s in socks:
            s.close()
        before = d.log_bytes()
        start = time.perf_counter()
        total = 0
        while total < 20_000:
            batch = idle_sockets(d.port, ["127.0.0.77"], 500)
            total += len(batch)
            time.sleep(0.02)
            for s in batch:
                s.close()
        elapsed = time.perf_counter() - start
        time.sleep(11)  # one summary interval
        print(f"flood: {total} connections from one address in {elapsed:.1f} s (100 admitted at a time, the rest "
              f"refused): {d.log_bytes() - before} bytes of log")
    finally:
        d.stop()


def bruteforce() -> None:
    for label, sources in (("one address, 50 parallel connections", ["127.0.0.88"] * 50),
                           ("50 addresses", loopback_sources(50, 500))):
        d = Daemon()
        try:
            async def attack() -> tuple[int, int, float]:
                checked = locked = 0
                end = time.perf_counter() + 10.0

                async def worker(source: str, k: int) -> None:
                    nonlocal checked, locked
                    i = 0
                    while time.perf_counter() < end:
                        i += 1
                        try:
                            answer, _ = await logon(d.port, "CLIENT1", f"guess-{k}-{i}", source)
                        except (OSError, asyncio.TimeoutError):
                            await asyncio.sleep(0.01)
                            continue
                        if b"invalid credentials" in answer:
                            checked += 1
                        elif b"too many failed" in answer:
                            locked += 1

                start = time.perf_counter()
                await asyncio.gather(*(worker(s, k) for k, s in enumerate(sources)))
                return checked, locked, time.perf_counter() - start

            checked, locked, elapsed = asyncio.run(attack())
            good, seconds = asyncio.run(logon(d.port, "CLIENT2", "pass2", "127.0.0.99"))
            print(f"bruteforce ({label}): {checked} passwords checked in {elapsed:.1f} s "
                  f"({checked / elapsed:.2f}/s), {locked} answered 'locked' ({(checked + locked) / elapsed:.1f} "
                  f"answers/s); another session meanwhile: {good[:1].decode()} in {seconds * 1000:.1f} ms")
        finally:
            d.stop()


def fix_load(port: int, *args: str, timeout: float = 300) -> subprocess.Popen:
    return subprocess.Popen(PIN_CLIENTS + [sys.executable, "-m", "fixexchange.cli.load", "--port", str(port), "--target",
                             "FIXEXCH", "--no-progress", *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def round_trip(out: str) -> str:
    m = re.search(r"round trip\s+p50 (\d+) us\s+p90 (\d+) us\s+p99 (\d+) us", out)
    return f"p50 {m[1]} us, p99 {m[3]} us" if m else f"? ({out.strip()[-200:]})"


def flooder(port: int) -> None:
    """(a subprocess) CLIENT1 pipelining crossing orders with no window, as fast as it can
    write; a thread reads and discards the reports."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(logon_bytes("CLIENT1", "pass1"))
    s.recv(4096)

    def drain() -> None:
        while s.recv(1 << 20):
            pass

    threading.Thread(target=drain, daemon=True).start()
    seq = 2
    print("flooding", flush=True)
    while True:
        batch = []
        for _ in range(500):
            side = 1 + seq % 2
            batch.append(fix("D", [(11, f"f{seq}"), (55, "SYM1"), (54, side), (60, "20260101-00:00:00"),
                                   (38, 1), (40, 2), (44, "107")], "CLIENT1", seq))
            seq += 1
        s.sendall(b"".join(batch))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fairness() -> None:
    victim_args = ["--comp-id", "CLIENT2", "--password", "pass2", "--window", "1", "--orders", "2000",
                   "--mix", "passive", "--symbols", "SYM2"]
    for per_turn in (32, 1_000_000, 32, 1_000_000):
        d = Daemon(max_messages_per_turn=per_turn)
        try:
            alone_out = fix_load(d.port, *victim_args).communicate()[0]
            flood = subprocess.Popen(PIN_CLIENTS + [sys.executable, __file__, "_flooder", str(d.port)], env=ENV,
                                     stdout=subprocess.PIPE, text=True)
            flood.stdout.readline()
            time.sleep(1.0)
            cpu0, t0 = cpu_seconds(d.proc.pid), time.perf_counter()
            during_out = fix_load(d.port, *victim_args).communicate()[0]
            busy = (cpu_seconds(d.proc.pid) - cpu0) / (time.perf_counter() - t0)
            flood.kill()
            flood.wait()
            print(f"fairness (max_messages_per_turn {per_turn}): victim window 1 alone {round_trip(alone_out)}; "
                  f"during a no-window flood {round_trip(during_out)} (daemon CPU {busy:.0%} of a core)")
        finally:
            d.stop()


def heartbeats() -> None:
    d = Daemon()
    try:
        time.sleep(0.5)
        before = d.rss_mb()
        filler = "x" * 60_000
        sent = 0
        logouts = 0
        while sent < 9000:
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall(logon_bytes("CLIENT1", "pass1"))
            s.recv(4096)
            try:
                seq = 10
                while sent < 9000:
                    s.sendall(fix("0", [(58, filler)], "CLIENT1", seq))
                    seq += 1
                    sent += 1
            except OSError:
                logouts += 1
            s.close()
        time.sleep(0.5)
        print(f"heartbeats: 9,000 Heartbeats of 60 KB past a gap ({logouts} Logouts at max_queued_bytes): "
              f"daemon RSS {before:.0f} MB before, peak {d.rss_mb('VmHWM'):.0f} MB, now {d.rss_mb():.0f} MB")
    finally:
        d.stop()


def throughput() -> None:
    for per_turn in (32, 1_000_000, 32, 1_000_000):
        d = Daemon(max_messages_per_turn=per_turn)
        try:
            p = fix_load(d.port, "--comp-id", "CLIENT1", "--password", "pass1", "--orders", "40000",
                         "--pid", str(d.proc.pid))
            out = p.communicate()[0]
            rate = re.search(r"orders/s\s+([\d,]+)", out)
            cpu = re.search(r"daemon CPU\s+([\d.]+) us/order", out)
            print(f"throughput (max_messages_per_turn {per_turn}): fix-load window 200: "
                  f"{rate[1] if rate else '?'} orders/s, daemon CPU {cpu[1] if cpu else '?'} us/order, "
                  f"{round_trip(out)}")
        finally:
            d.stop()


CASES = {"flood": flood, "bruteforce": bruteforce, "fairness": fairness, "heartbeats": heartbeats,
         "throughput": throughput}


def main() -> None:
    if sys.argv[1:2] == ["_flooder"]:
        flooder(int(sys.argv[2]))
        return
    names = [a for a in sys.argv[1:] if a != "--pin"] or list(CASES)
    for name in names:
        if name not in CASES:
            sys.exit(f"unknown case {name!r} (cases: {', '.join(CASES)})")
    for name in names:
        CASES[name]()


if __name__ == "__main__":
    main()
