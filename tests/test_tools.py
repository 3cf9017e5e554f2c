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
