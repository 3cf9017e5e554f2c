"""fix-load's progress line, HdrHistogram percentiles, --report and --compare."""
from __future__ import annotations

import io
import json
import random
import struct

import pytest

from fixexchange.cli import load, load_report


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """One real small run against a daemon fix-load starts, with --report and --progress."""
    out = tmp_path_factory.mktemp("report")
    import contextlib

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = load.main(["--orders", "2000", "-n", "2", "--window", "20", "--memory-store",
                        "--report", str(out / "run"), "--progress", "--progress-interval", "0.01"])
    assert rc == 0, stdout.getvalue() + stderr.getvalue()
    return out / "run", stdout.getvalue(), stderr.getvalue()


def test_report_json_holds_the_run_and_its_numbers(report_dir):
    path, stdout, _ = report_dir
    report = json.loads((path / "report.json").read_text())
    assert report["tool"] == "fix-load" and report["format"] == 1
    assert report["run"]["orders"] == 2000 and report["run"]["sessions"] == 2
    assert report["run"]["window"] == 20 and report["run"]["started_daemon"] is True
    result = report["result"]
    assert result["orders"] == 2000 and result["complete"] is True and result["rejects"] == 0
    lat = report["latency_us"]
    assert lat["count"] == 2000
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
    # the printed numbers are the report's numbers
    assert f"p50 {lat['p50']} us  p90 {lat['p90']} us  p99 {lat['p99']} us" in stdout
    assert f"max {lat['max']} us" in stdout
    assert result["rtt_p99_us"] == lat["p99"]
    # the encoded histogram decodes to the same distribution
    from hdrh.histogram import HdrHistogram

    hist = HdrHistogram.decode(report["hdr_histogram"])
    assert hist.get_total_count() == 2000
    assert hist.get_value_at_percentile(99) == lat["p99"]
    # the spectrum rises from the minimum to the maximum and ends at 100%
    spectrum = report["latency_spectrum"]
    assert [v for _, v in spectrum] == sorted(v for _, v in spectrum)
    assert spectrum[-1] == [100.0, hist.get_max_value()]
    # every answer is in one time bin of the timeline
    line = report["timeline"]
    n = len(line["t_s"])
    assert n >= 1 and len(line["orders_per_s"]) == len(line["p99_us"]) == n
    spans = [b - a for a, b in zip([0.0] + line["t_s"], line["t_s"])]
    assert round(sum(r * s for r, s in zip(line["orders_per_s"], spans))) == pytest.approx(2000, abs=2)
    assert abs(line["t_s"][-1] - result["wall_s"]) < 1e-5
    assert all(p99 is None or p99 >= p50 for p50, p99 in zip(line["p50_us"], line["p99_us"]))


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _pixels_like(path, rgb, tolerance=40):
    from PIL import Image

    image = Image.open(path).convert("RGB")
    return sum(count for count, colour in image.getcolors(1 << 20)
               if all(abs(c - t) <= tolerance for c, t in zip(colour, rgb)))


def test_report_pictures_show_the_curves(report_dir):
    path, stdout, _ = report_dir
    assert f"report            {path / 'report.json'}, {path / 'latency.png'}, {path / 'timeline.png'}" in stdout
    assert _png_size(path / "latency.png") == (800, 360)
    assert _png_size(path / "timeline.png") == (800, 420)
    for name in ("latency.png", "timeline.png"):
        assert (path / name).stat().st_size < 150_000  # small enough to commit
    # the distribution curve (tab:blue) and the percentile marks (tab:red)
    assert _pixels_like(path / "latency.png", (31, 119, 180)) > 500
    assert _pixels_like(path / "latency.png", (214, 39, 40)) > 20
    # throughput (tab:green) and p99 (tab:red) over time
    assert _pixels_like(path / "timeline.png", (44, 160, 44)) > 200
    assert _pixels_like(path / "timeline.png", (214, 39, 40)) > 100


def test_progress_lines_on_request_when_stderr_is_no_terminal(report_dir):
    _, _, stderr = report_dir
    lines = [line for line in stderr.splitlines() if line.startswith("fix-load ")]
    assert lines, stderr
    assert "\r" not in stderr and "\x1b" not in stderr  # plain lines, not a rewritten one
    import re

    pattern = (r"^fix-load +\d+\.\d s  sent [\d,]+  answered [\d,]+/2,000 \(\d+%\)  [\d,]+ orders/s  "
               r"(p50 [\d,]+ us  p99 [\d,]+ us|p50 -  p99 -)$")
    assert all(re.match(pattern, line) for line in lines), lines


def test_no_progress_line_when_stderr_is_not_a_terminal(capfd):
    assert load.main(["--orders", "200", "--window", "10", "--memory-store",
                      "--progress-interval", "0.001"]) == 0
    captured = capfd.readouterr()
    assert captured.err == ""  # a benchmark piping its output gets only the results
    assert "orders answered   200 in" in captured.out


def test_progress_on_a_terminal_rewrites_one_line_and_clears_it():
    stream = io.StringIO()
    progress = load.Progress(stream, rewrite=True)
    progress.show("fix-load 1.0 s  sent 10")
    progress.show("fix-load 1.5 s  sent 20")
    progress.close()
    assert stream.getvalue() == ("\rfix-load 1.0 s  sent 10\x1b[K\rfix-load 1.5 s  sent 20\x1b[K"
                                 "\r\x1b[K")


def test_progress_line_text():
    line = load.orders_progress_line(2.25, 103_400, 103_200, 300_000, 41_280.4,
                                     sorted([90e-6] * 98 + [400e-6, 410e-6]))
    assert line == ("fix-load   2.2 s  sent 103,400  answered 103,200/300,000 (34%)  "
                    "41,280 orders/s  p50 90 us  p99 400 us")
    assert load.orders_progress_line(0.5, 200, 0, 1000, 0.0, []).endswith("0 orders/s  p50 -  p99 -")


def test_histogram_percentiles_have_three_significant_digits():
    rng = random.Random(7)
    values = [rng.expovariate(1 / 200e-6) + 20e-6 for _ in range(50_000)]
    hist = load_report.histogram(values)
    exact = sorted(values)
    for p in (50, 90, 99, 99.9):
        want = exact[int(p / 100 * len(exact)) - 1] * 1e6
        assert hist.get_value_at_percentile(p) == pytest.approx(want, rel=0.002, abs=1.0), p
    summary = load_report.latency_summary(hist)
    assert summary["count"] == 50_000 and summary["max"] == pytest.approx(exact[-1] * 1e6, rel=0.001)
    assert load_report.latency_summary(load_report.histogram([])) == {"count": 0}


def test_timeline_bins_count_every_answer_once():
    done = [0.0005 + 0.001 * k for k in range(1000)]  # 1000 answers over one second
    rtts = [100e-6] * 500 + [300e-6] * 500
    line = load_report.timeline(done, rtts, 1.0)
    assert line["bin_s"] == 0.05 and len(line["t_s"]) == 20
    assert all(rate == pytest.approx(1000, rel=0.001) for rate in line["orders_per_s"])
    assert line["p50_us"][0] == 100.0 and line["p99_us"][-1] == 300.0
    assert load_report.timeline([], [], 1.0)["t_s"] == []


def _fake_report(orders_per_s, p99, daemon_cpu=20.0, window=200):
    return {"tool": "fix-load", "format": 1, "created": "2026-01-01T00:00:00Z",
            "run": {"orders": 1000, "sessions": 1, "window": window, "mix": "default"},
            "result": {"orders_per_s": orders_per_s, "execs_per_s": orders_per_s * 1.1,
                       "client_cpu_us_per_order": 3.0, "daemon_cpu_us_per_order": daemon_cpu},
            "latency_us": {"p50": 100, "p90": 200, "p99": p99, "p99.9": 900, "p99.99": 1000,
                           "max": 1200, "count": 1000}}


def test_compare_prints_ratios(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "report.json").write_text(json.dumps(_fake_report(40_000, 400)))
    (tmp_path / "b.json").write_text(json.dumps(_fake_report(50_000, 300, daemon_cpu=25.0, window=1)))
    assert load.main(["--compare", str(tmp_path / "a"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = {line[:26].strip(): line[26:].split() for line in out if line[:26].strip()}
    assert rows["orders/s"] == ["40,000", "50,000", "1.25", "better"]
    assert rows["round trip p99 (us)"] == ["400", "300", "0.75", "better"]
    assert rows["daemon CPU (us/order)"] == ["20.0", "25.0", "1.25", "worse"]
    assert rows["round trip p50 (us)"] == ["100", "100", "1.00"]
    assert "note: the runs differ in window: A 200, B 1" in out


def test_compare_of_the_real_report_with_itself(report_dir, capsys):
    path, _, _ = report_dir
    assert load.main(["--compare", str(path), str(path / "report.json")]) == 0
    out = capsys.readouterr().out
    assert "orders/s" in out and "better" not in out and "worse" not in out
    assert out.count(" 1.00") >= 8


@pytest.mark.parametrize("content, message", [
    (None, "no such report"),
    ("{not json", "not JSON"),
    ('{"tool": "other"}', "not a fix-load report"),
])
def test_compare_of_a_bad_report_is_one_line(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_fake_report(1, 1)))
    assert load.main(["--compare", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fix-load: ") and message in err and len(err.splitlines()) == 1


def test_report_usage_errors(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        load.main(["idle", "--report", str(tmp_path)])
    assert exc.value.code == 2
    assert "--report applies to the orders mode" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        load.main(["--progress-interval", "0"])
    assert "--progress-interval must be positive" in capsys.readouterr().err


def test_unwritable_report_directory_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert load.main(["--orders", "50", "--memory-store", "--report", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fix-load: cannot write the report to {blocker / 'sub'}")


def test_every_option_has_help_text():
    parser = load.build_parser()
    undocumented = [action.option_strings or action.dest for action in parser._actions
                    if not action.help]
    assert undocumented == []
    text = parser.format_help()
    for needle in ("--report DIR", "--compare A B", "--progress, --no-progress", "HdrHistogram",
                   "exit codes"):
        assert needle in text
