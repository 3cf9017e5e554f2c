"""A non-editable install (`pip install .`) runs with the bundled config: the wheel carries
config/exchange.toml as package data, and the daemon started from the unpacked wheel, in a
directory without ./config, finds it, listens and exits cleanly on SIGTERM; `fixexchange
dictionary` finds the FIX44.xml it builds on."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SKIP = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", "var", ".pytest_cache",
                               ".hypothesis", "dist")


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=_SKIP)
    out = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(out)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("fixexchange-*.whl")
    return wheel


def test_wheel_ships_the_bundled_config_and_the_daemon_runs_from_it(tmp_path):
    wheel = build_wheel(tmp_path)
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    shipped = site / "fixexchange" / "server" / "exchange.toml"
    assert not shipped.is_symlink()
    assert shipped.read_bytes() == (ROOT / "config" / "exchange.toml").read_bytes()

    workdir = tmp_path / "elsewhere"  # no ./config here: only the bundled file can be found
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)  # the unpacked wheel, not this source tree
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from fixexchange.server.main import main; sys.exit(main())",
         "--port", "0", "--memory-store", "--no-uvloop"],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        assert f"config {shipped.resolve()}" in line
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert rc == 0, proc.stderr.read()
    # QuickFIX's FIX44.xml ships too: `fixexchange dictionary` works from the wheel
    out = tmp_path / "fixexchange.xml"
    done = subprocess.run([sys.executable, "-c", "import sys; from fixexchange.server.main import main; "
                           "sys.exit(main())", "dictionary", "-o", str(out)],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b'name="AggressorSide"' in out.read_bytes()
