"""fix-load's numbers as a report: round-trip percentiles from an HdrHistogram, throughput
and p99 over the run, ``--report DIR`` (report.json, latency.png, timeline.png) and
``--compare`` of two reports.

Needs the ``tools`` extra (hdrhistogram; matplotlib for the pictures only)."""
from __future__ import annotations

import collections
import datetime as _dt
import json
import math
import os
import platform
import sys
from pathlib import Path

# Round trips are recorded in whole microseconds, 1 us .. 1 hour, 3 significant digits
# (0.1% resolution: a p99 of 412 us is 412 +- 0.4 us).
LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT = 3
PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99)
REPORT_FORMAT = 1


class ReportError(Exception):
    """A report that cannot be read or written; the message is one line for the user."""


def histogram(rtts_s) -> "HdrHistogram":  # noqa: F821
    """An HdrHistogram (microseconds) of round trips given in seconds."""
    from hdrh.histogram import HdrHistogram

    hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT)
    # one record per distinct microsecond value: 300,000 round trips are a few thousand
    # distinct values, and hdrh records in pure Python (1 us per call)
    counts = collections.Counter(min(HIGHEST_US, max(LOWEST_US, round(x * 1e6))) for x in rtts_s)
    for value, count in counts.items():
        hist.record_value(value, count)
    return hist


def percentile_name(p: float) -> str:
    return f"p{p:g}"


def latency_summary(hist) -> dict:
    """p50 ... p99.99, min, max, mean and count of the histogram, in microseconds."""
    count = hist.get_total_count()
    if not count:
        return {"count": 0}
    summary = {percentile_name(p): hist.get_value_at_percentile(p) for p in PERCENTILES}
    summary.update(min=hist.get_min_value(), max=hist.get_max_value(),
                   mean=round(hist.get_mean_value(), 1), count=count)
    return summary


def spectrum(hist) -> list[list[float]]:
    """[percentile, microseconds] points of the whole distribution (HdrHistogram's
    percentile iterator, 5 ticks per halving of the distance to 100%)."""
    if not hist.get_total_count():
        return []
    points = [[round(item.percentile, 6), item.value_iterated_to]
              for item in hist.get_percentile_iterator(5)]
    return points


_BIN_WIDTHS = (0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
               600.0, 1800.0, 3600.0, float("inf"))


def timeline(done_at_s: list[float], rtts_s: list[float], wall_s: float, bins: int = 60) -> dict:
    """Throughput and p50/p99 per time bin: each answer counted when it arrived
    (`done_at_s`, seconds since the start, paired with its round trip in `rtts_s`).
    At most `bins` bins of a round width of at least 50 ms (answers come in bursts of a
    window: shorter bins would show the bursts, not the rate)."""
    if not done_at_s or wall_s <= 0:
        return {"bin_s": 0.0, "t_s": [], "orders_per_s": [], "p50_us": [], "p99_us": []}
    width = next(w for w in _BIN_WIDTHS if w >= wall_s / bins)
    count = max(1, math.ceil(wall_s / width))
    per_bin: list[list[float]] = [[] for _ in range(count)]
    for at, rtt in zip(done_at_s, rtts_s):
        per_bin[min(count - 1, int(at / width))].append(rtt)
    result = {"bin_s": round(width, 6), "t_s": [], "orders_per_s": [], "p50_us": [], "p99_us": []}
    for k, values in enumerate(per_bin):
        # the last bin may be shorter than the others
        span = min(width, wall_s - k * width) if k == count - 1 else width
        values.sort()
        result["t_s"].append(round((k + 1) * width if k < count - 1 else wall_s, 6))
        result["orders_per_s"].append(round(len(values) / span, 1) if span > 0 else 0.0)
        result["p50_us"].append(_quantile_us(values, 50))
        result["p99_us"].append(_quantile_us(values, 99))
    return result


def _quantile_us(sorted_s: list[float], p: float) -> float | None:
    if not sorted_s:
        return None
    k = min(len(sorted_s) - 1, max(0, math.ceil(p / 100 * len(sorted_s)) - 1))
    return round(sorted_s[k] * 1e6, 1)


def build(result: dict, run: dict, hist, line: dict) -> dict:
    """The JSON report: what was run, the printed numbers, the latency distribution (also
    as an encoded HdrHistogram, so it can be merged or re-plotted) and the timeline."""
    return {
        "format": REPORT_FORMAT,
        "tool": "fix-load",
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "run": run,
        "result": {k: (None if isinstance(v, float) and math.isnan(v) else v)
                   for k, v in result.items()},
        "latency_us": latency_summary(hist),
        "latency_spectrum": spectrum(hist),
        "hdr_histogram": hist.encode().decode("ascii") if hist.get_total_count() else "",
        "timeline": line,
    }


def write(directory: str, report: dict) -> list[Path]:
    """report.json, latency.png and timeline.png in `directory` (created)."""
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
        path = out / "report.json"
        path.write_text(json.dumps(report, indent=1) + "\n")
        written = [path]
        written += plot(report, out)
    except OSError as exc:
        raise ReportError(f"cannot write the report to {directory}: "
                          f"{exc.strerror or exc}") from None
    return written


def _title(report: dict) -> str:
    run, res = report["run"], report["result"]
    return (f"fix-load: {res.get('orders', 0):,} requests, {run.get('sessions')} session(s), "
            f"window {run.get('window')}, mix {run.get('mix')}"
            + (f", {run['md_subscribers']} md subscribers" if run.get("md_subscribers") else "")
            + f" - {res.get('orders_per_s', 0):,.0f} orders/s")


def plot(report: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import FuncFormatter, FixedLocator

    paths = []
    lat = report["latency_us"]
    points = report["latency_spectrum"]

    # -- latency: the percentile spectrum (x: 1/(1-p) on a log axis, so the tail spreads out)
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    if points:
        xs = [1 / (1 - min(p, 99.9999) / 100) for p, _ in points]
        ax.plot(xs, [v for _, v in points], color="tab:blue", lw=1.6, drawstyle="steps-pre")
        marks = [(p, lat[percentile_name(p)]) for p in PERCENTILES]
        for p, v in marks:
            x = 1 / (1 - p / 100)
            ax.plot([x], [v], "o", color="tab:red", ms=4)
            first = p == PERCENTILES[0]  # at the left edge: its label goes to the right
            ax.annotate(f"{percentile_name(p)} {v:,} us", (x, v), textcoords="offset points",
                        xytext=(6, -12) if first else (-6, 6), ha="left" if first else "right",
                        fontsize=8)
    ax.set_xscale("log")
    # a log scale: the median and a tail 100 times longer are both readable
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ticks = [1, 2, 10, 100, 1000, 10000]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _: f"{100 - 100 / x:g}%" if x > 0 else ""))
    ax.set_xlim(1, 10000 * 1.5)
    ax.set_xlabel("percentile")
    ax.set_ylabel("round trip (us)")
    ax.set_title(_title(report), fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    path = out / "latency.png"
    fig.savefig(path)
    plt.close(fig)
    paths.append(path)

    # -- timeline: throughput, then p50/p99 per bin
    line = report["timeline"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.2), dpi=100, sharex=True)
    # each value covers the bin that ends at its t: draw the first bin from 0
    ts = [0.0] + line["t_s"]

    def from_zero(values):
        return values[:1] + values

    top.step(ts, from_zero(line["orders_per_s"]), where="pre", color="tab:green", lw=1.4)
    top.set_ylabel("answered / s")
    top.set_ylim(bottom=0)
    top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    top.set_title(_title(report), fontsize=9)
    top.grid(True, alpha=0.3)
    for key, colour, label in (("p99_us", "tab:red", "p99"), ("p50_us", "tab:blue", "p50")):
        values = from_zero([float("nan") if v is None else v for v in line[key]])
        bottom.step(ts, values, where="pre", color=colour, lw=1.2, label=label)
    bottom.set_ylabel("round trip (us)")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel(f"seconds since the first order (bins of {line['bin_s'] * 1000:g} ms)")
    bottom.legend(loc="upper right", fontsize=8)
    bottom.grid(True, alpha=0.3)
    fig.tight_layout()
    path = out / "timeline.png"
    fig.savefig(path)
    plt.close(fig)
    paths.append(path)
    return paths


# ----------------------------------------------------------------------------- compare


def read(path: str) -> dict:
    """A report written by --report: its report.json, or the directory holding it."""
    file = Path(path)
    if file.is_dir():
        file = file / "report.json"
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise ReportError(f"{file}: no such report") from None
    except OSError as exc:
        raise ReportError(f"{file}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{file}: not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("tool") != "fix-load" or "result" not in data:
        raise ReportError(f"{file}: not a fix-load report (written by fix-load --report)")
    return data


# (label, where, key, True when higher is better)
METRICS = (
    ("orders/s", "result", "orders_per_s", True),
    ("ExecutionReports/s", "result", "execs_per_s", True),
    *((f"round trip {percentile_name(p)} (us)", "latency_us", percentile_name(p), False)
      for p in PERCENTILES),
    ("round trip max (us)", "latency_us", "max", False),
    ("fix-load CPU (us/order)", "result", "client_cpu_us_per_order", False),
    ("daemon CPU (us/order)", "result", "daemon_cpu_us_per_order", False),
    ("daemon RSS (MB)", "result", "daemon_rss_mb", False),
)
RUN_KEYS = ("orders", "sessions", "window", "mix", "symbols", "md_subscribers", "seed")


def compare(base: dict, new: dict, base_name: str = "A", new_name: str = "B") -> list[str]:
    """Lines of a side-by-side table with the ratio new/base per metric (for each, whether
    higher or lower is better), and a warning for each run parameter that differs."""
    lines = [f"A = {base_name} ({base.get('created', '?')})",
             f"B = {new_name} ({new.get('created', '?')})"]
    for key in RUN_KEYS:
        a, b = base.get("run", {}).get(key), new.get("run", {}).get(key)
        if a != b:
            lines.append(f"note: the runs differ in {key}: A {a}, B {b}")
    lines.append(f"{'':<26}{'A':>12}{'B':>12}{'B/A':>8}")
    for label, where, key, higher_better in METRICS:
        a, b = base.get(where, {}).get(key), new.get(where, {}).get(key)
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            continue
        ratio = f"{b / a:.2f}" if a else "-"
        better = ""
        if a and b != a:
            better = "  better" if (b > a) == higher_better else "  worse"
        lines.append(f"{label:<26}{_num(a):>12}{_num(b):>12}{ratio:>8}{better}")
    lines.append("(ratios as B/A; the machine's noise is often +-25%: repeat before you trust a "
                 "small difference)")
    return lines


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def available() -> str | None:
    """None when --report can work, else the one-line reason."""
    missing = []
    for module, package in (("hdrh", "hdrhistogram"), ("matplotlib", "matplotlib")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        return (f"--report needs {' and '.join(missing)} (pip install 'fixexchange[tools]')")
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use fix-load --report / --compare")
