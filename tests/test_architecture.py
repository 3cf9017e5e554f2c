"""The layer contract of pyproject.toml's [tool.importlinter], checked on every run.

codec <- session | engine <- gateway <- server | cli, the engine independent of the rest,
and no sockets, threads, files or clock below gateway/server.  The second test proves the
contracts are not vacuous: the same contracts over a copy of the package with one bad
import added must fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]

_LINT = ("import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, show_timings=False))")


def lint(package_parent: Path, config: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(package_parent))
    return subprocess.run([sys.executable, "-c", _LINT, str(config)], cwd=package_parent,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_package_keeps_its_layer_contracts():
    result = lint(ROOT, ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, line, complaint", [
    ("codec/parser.py", "import socket", "fixexchange.codec is not allowed to import socket"),
    ("session/events.py", "import asyncio", "fixexchange.session is not allowed to import asyncio"),
    ("engine/types.py", "import time", "fixexchange.engine is not allowed to import time"),
    ("engine/types.py", "from fixexchange.codec import encode",
     "fixexchange.engine is not allowed to import fixexchange.codec"),
    ("codec/message.py", "import fixexchange.session",
     "fixexchange.codec.message -> fixexchange.session"),
    ("gateway/units.py", "import fixexchange.server.config",
     "fixexchange.gateway.units -> fixexchange.server.config"),
])
def test_a_bad_import_breaks_a_contract(tmp_path, module, line, complaint):
    shutil.copytree(ROOT / "fixexchange", tmp_path / "fixexchange",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "fixexchange" / module
    target.write_text(target.read_text() + f"\n{line}  # added by the test\n")
    result = lint(tmp_path, tmp_path / "pyproject.toml")
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and complaint in result.stdout, result.stdout
