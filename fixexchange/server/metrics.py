"""Counters and histograms of the running daemon, rendered in the Prometheus text format
(exposition format 0.0.4) for ``GET /metrics`` on the admin endpoint.

Counting is one dict increment per message, inlined where the server reads and sends (no
locks: every reader and writer runs on the event loop); ExecutionReports by ExecType, rejects
by reason and trades are counted by the gateway where it builds them (``report_counts``,
``reject_counts``, ``trade_counts``).  Rendering walks the counters once per scrape.
"""
from __future__ import annotations

import os
import time

from ..codec.tags import ExecTypes, OrdTypes

# Seconds: event-loop lag is usually well under a millisecond; a stall shows in the top buckets.
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
WRITE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

_ORD_TYPE_NAMES = {OrdTypes.MARKET: "market", OrdTypes.LIMIT: "limit", OrdTypes.STOP: "stop",
                   OrdTypes.STOP_LIMIT: "stop_limit"}
_EXEC_TYPE_NAMES = {ExecTypes.NEW: "new", ExecTypes.CANCELED: "canceled", ExecTypes.REPLACED: "replaced",
                    ExecTypes.REJECTED: "rejected", ExecTypes.EXPIRED: "expired", ExecTypes.RESTATED: "restated",
                    ExecTypes.TRADE: "trade", ExecTypes.ORDER_STATUS: "order_status",
                    ExecTypes.TRIGGERED: "triggered"}


class Histogram:
    __slots__ = ("buckets", "counts", "sum", "count")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.sum += value
        self.count += 1
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
                break

    def render(self, name: str, help_text: str) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        running = 0
        for bound, count in zip(self.buckets, self.counts):
            running += count
            lines.append(f'{name}_bucket{{le="{bound:g}"}} {running}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"{name}_sum {self.sum!r}")
        lines.append(f"{name}_count {self.count}")
        return lines


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """What ``/metrics`` shows; the server feeds it."""

    def __init__(self) -> None:
        self.started = time.time()
        self.messages_in: dict[bytes, int] = {}
        self.messages_out: dict[bytes, int] = {}
        self.orders_in: dict[bytes, int] = {}  # by OrdType
        self.session_rejects: dict[int, int] = {}  # by SessionRejectReason
        self.refusals: dict[str, int] = {}
        self.logons = 0
        self.disconnects = 0
        self.loop_lag = Histogram(LAG_BUCKETS)
        # the command journal's write latency (fed by the journal when one is configured)
        self.journal_write = Histogram(WRITE_BUCKETS)
        self.journal_enabled = False

    # -- feeding (the event loop's thread; messages in and out are counted inline) -------
    def session_reject(self, reason: int) -> None:
        self.session_rejects[reason] = self.session_rejects.get(reason, 0) + 1

    def refused(self, reason: str) -> None:
        self.refusals[reason] = self.refusals.get(reason, 0) + 1

    def total_orders(self) -> int:
        return sum(self.orders_in.values())

    def total_rejects(self, gateway) -> int:
        return sum(self.session_rejects.values()) + sum(getattr(gateway, "reject_counts", {}).values())

    # -- rendering ------------------------------------------------------------------------
    def render(self, server) -> str:
        """The exposition text; ``server`` (an ExchangeServer) gives the gauges."""
        out: list[str] = []

        def counter(name: str, help_text: str, samples: list[tuple[str, int | float]]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} counter")
            for labels, value in samples:
                out.append(f"{name}{labels} {value}")

        def gauge(name: str, help_text: str, samples: list[tuple[str, int | float]]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} gauge")
            for labels, value in samples:
                out.append(f"{name}{labels} {value}")

        def by(label: str, counts: dict, names: dict | None = None) -> list[tuple[str, int]]:
            rows = []
            for key in sorted(counts):
                text = key.decode("ascii", "replace") if isinstance(key, bytes) else str(key)
                rows.append((f'{{{label}="{_label(text)}"}}', counts[key]))
                if names is not None and key in names:
                    rows[-1] = (f'{{{label}="{_label(text)}",name="{names[key]}"}}', counts[key])
            return rows

        counter("fixexchange_messages_received_total",
                "Application messages received, by MsgType(35).", by("msg_type", self.messages_in))
        counter("fixexchange_messages_sent_total",
                "Application messages sent (sequenced and stored), by MsgType(35).",
                by("msg_type", self.messages_out))
        counter("fixexchange_orders_received_total", "NewOrderSingle (D) received, by OrdType(40).",
                by("ord_type", self.orders_in, _ORD_TYPE_NAMES))
        gateway = server.gateway
        counter("fixexchange_execution_reports_sent_total",
                "ExecutionReports built for their owners (drop copies not counted), by ExecType(150).",
                by("exec_type", getattr(gateway, "report_counts", {}), _EXEC_TYPE_NAMES))
        rejects = dict(getattr(gateway, "reject_counts", {}))
        for reason, n in self.session_rejects.items():
            rejects[("session", reason)] = n
        counter("fixexchange_rejects_total",
                "Rejects sent: kind order (ER 150=8, reason OrdRejReason 103), cancel (9, CxlRejReason "
                "102), business (j, BusinessRejectReason 380), session (3, SessionRejectReason 373).",
                [(f'{{kind="{kind}",reason="{reason}"}}', n) for (kind, reason), n in sorted(rejects.items())])
        trade_counts = getattr(gateway, "trade_counts", {})
        counter("fixexchange_trades_total", "Trades (executions) per symbol.",
                [(f'{{symbol="{_label(sym)}"}}', c[0]) for sym, c in sorted(trade_counts.items())])
        counter("fixexchange_traded_quantity_total", "Traded quantity (lots) per symbol.",
                [(f'{{symbol="{_label(sym)}"}}', c[1]) for sym, c in sorted(trade_counts.items())])
        counter("fixexchange_logons_total", "Successful Logons.", [("", self.logons)])
        counter("fixexchange_connections_refused_total",
                "Connections closed before a Logon was possible, by reason.",
                [(f'{{reason="{_label(r)}"}}', n) for r, n in sorted(self.refusals.items())])
        gauge("fixexchange_sessions_logged_on", "Sessions logged on now.", [("", len(server.by_session))])
        gauge("fixexchange_connections_open", "TCP connections open now.", [("", len(server.protocols))])
        queue = []
        for sid, p in sorted(server.by_session.items()):
            size = p.transport.get_write_buffer_size() if p.transport is not None else 0
            queue.append((f'{{session="{_label(sid)}"}}', size))
        gauge("fixexchange_outbound_queue_bytes", "Bytes queued to a logged-on session's socket.", queue)
        halted = getattr(getattr(gateway, "trading_status", None), "halted", {})
        gauge("fixexchange_symbols_halted", "Symbols halted now.", [("", len(halted))])
        counter("fixexchange_market_data_dropped_total",
                "Market-data messages conflated away for slow readers.", [("", server.stats["md_dropped"])])
        out += self.loop_lag.render("fixexchange_event_loop_lag_seconds",
                                    "How late the event loop ran a timer due every 0.25 s.")
        if self.journal_enabled:
            out += self.journal_write.render("fixexchange_journal_write_seconds",
                                             "Command journal write (and flush) latency.")
        cpu = time.process_time()
        counter("process_cpu_seconds_total", "User and system CPU time of the daemon.", [("", cpu)])
        gauge("process_resident_memory_bytes", "Resident set size.", [("", _rss_bytes())])
        gauge("process_start_time_seconds", "When the daemon started (Unix time).", [("", self.started)])
        return "\n".join(out) + "\n"


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        try:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # (peak, in KiB on Linux)
        except Exception:  # pragma: no cover - platform dependent
            return 0
