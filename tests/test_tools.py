"""The benchmark scripts in tools/ run and refuse bad arguments (their numbers are not tested)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOLS / script), *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("layer", ["flow", "parse", "validate", "session", "gateway"])
def test_bench_pipeline_runs_the_first_layers(layer):
    result = run("bench_pipeline.py", "--orders", "300", "--stop-after", layer)
    assert result.returncode == 0, result.stderr
    assert f"300 requests:" in result.stdout and f"layers up to {layer}" in result.stdout


def test_bench_pipeline_whole_path_writes_the_replies():
    result = run("bench_pipeline.py", "--orders", "300")
    assert result.returncode == 0, result.stderr
    assert "300 requests:" in result.stdout and " 0.0 MB out" not in result.stdout


@pytest.mark.parametrize("args", [["--orders", "0"], ["--more", "-1"], ["--layers", "parse,bogus"]])
def test_count_instructions_usage_errors(args):
    result = run("count_instructions.py", *args)
    assert result.returncode == 2 and "error" in result.stderr


def test_count_instructions_without_valgrind_says_so(monkeypatch, capsys):
    sys.path.insert(0, str(TOOLS))
    try:
        import count_instructions
    finally:
        sys.path.remove(str(TOOLS))
    monkeypatch.setattr(count_instructions.shutil, "which", lambda name: None)
    monkeypatch.setattr(sys, "argv", ["count_instructions.py"])
    assert count_instructions.main() == 2
    assert "valgrind is not installed" in capsys.readouterr().err


def test_bench_scale_writes_its_table_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    result = run("bench_scale.py", "--quick", "--orders", "400", "--axes", "subscribers,resting",
                 "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    table = (tmp_path / "scale.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| subscribers") or line.startswith("| resting")]
    assert len(rows) == 4, table
    assert "µs CPU to send one X" in table and rows[1].split("|")[6].strip()  # 5 subscribers: X were sent
    assert (tmp_path / "scale.png").read_bytes().startswith(b"\x89PNG")


def test_bench_scale_point_that_does_not_trade_is_an_error():
    # a point whose flow is bounced (here: every symbol unknown to the exchange) must fail
    # loudly instead of printing the cost of rejections
    sys.path.insert(0, str(TOOLS))
    try:
        import bench_scale
    finally:
        sys.path.remove(str(TOOLS))
    original = bench_scale.order_flow
    bench_scale.order_flow = lambda client, count, symbols, rng: original(client, count, [b"NOPE"], rng)
    try:
        with pytest.raises(SystemExit, match="did not trade"):
            bench_scale.run_point(1, 1, 10, 0, orders=50, batch=10)
    finally:
        bench_scale.order_flow = original


@pytest.mark.parametrize("args", [["--orders", "0"], ["--axes", "bogus"]])
def test_bench_scale_usage_errors(args):
    result = run("bench_scale.py", *args)
    assert result.returncode == 2 and "error" in result.stderr
