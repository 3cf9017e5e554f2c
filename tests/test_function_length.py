"""No function in fixexchange/ is longer than 80 lines unless it is a documented hot path
(tools/longest_functions.py; issue 10)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))
try:
    import longest_functions
finally:
    sys.path.remove(str(TOOLS))


def test_no_function_in_the_package_is_over_80_lines():
    offenders = [f.describe(longest_functions.PACKAGE) for f in longest_functions.offenders()]
    assert not offenders, "functions over 80 lines (split them, or mark a measured hot path):\n" + "\n".join(offenders)


def body(lines: int) -> str:
    return "".join(f"    x{i} = {i}\n" for i in range(lines - 1))


def write(tmp_path: Path, name: str, text: str) -> Path:
    package = tmp_path / "pkg"
    package.mkdir(exist_ok=True)
    (package / name).write_text(textwrap.dedent(text))
    return package


def test_lists_functions_and_methods_over_the_limit_longest_first(tmp_path):
    package = write(tmp_path, "m.py", "def short():\n" + body(5) + "\n\nclass C:\n    def long(self):\n"
                    + textwrap.indent(body(9), "    ") + "\n\ndef outer():\n" + body(7))
    found = longest_functions.long_functions(package, limit=6)
    assert [(f.name, f.line, f.length) for f in found] == [("C.long", 9, 9), ("outer", 20, 7)]
    assert found[0].describe(package) == "pkg/m.py:9  C.long  9 lines"


def test_nested_functions_are_named_by_their_outer_one(tmp_path):
    package = write(tmp_path, "m.py", "def outer():\n    def inner():\n" + textwrap.indent(body(6), "    ")
                    + "    return inner\n")
    assert [f.name for f in longest_functions.long_functions(package, limit=5)] == ["outer", "outer.inner"]


def test_a_hot_path_mark_on_the_def_line_or_above_exempts(tmp_path):
    package = write(tmp_path, "m.py",
                    "def on_line():  # hot path: 3% fewer instructions whole\n" + body(6)
                    + "\n# hot path: split costs 2%\n@staticmethod\ndef above():\n" + body(6)
                    + "\n# hot path:\ndef reason_missing():\n" + body(6)
                    + "\n# a hot path: not the mark\ndef not_marked():\n" + body(6))
    found = {f.name: f.hot_path_reason for f in longest_functions.long_functions(package, limit=5)}
    assert found == {"on_line": "3% fewer instructions whole", "above": "split costs 2%",
                     "reason_missing": None, "not_marked": None}
    assert [f.name for f in longest_functions.offenders(package, limit=5)] == ["reason_missing", "not_marked"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOLS / "longest_functions.py"), *args],
                          capture_output=True, text=True, timeout=60)


def test_command_says_none_and_exits_0_when_clean(tmp_path):
    package = write(tmp_path, "m.py", "def f():\n" + body(5))
    result = run("--limit", "5", str(package))
    assert (result.returncode, result.stdout) == (0, "none\n")


def test_command_exits_1_listing_offenders_and_0_for_hot_paths_only(tmp_path):
    package = write(tmp_path, "m.py", "def f():\n" + body(6))
    result = run("--limit", "5", str(package))
    assert (result.returncode, result.stdout) == (1, "pkg/m.py:1  f  6 lines\n")
    write(tmp_path, "m.py", "def f():  # hot path: measured\n" + body(6))
    result = run("--limit", "5", str(package))
    assert (result.returncode, result.stdout) == (0, "pkg/m.py:1  f  6 lines  (exempt, hot path: measured)\n")


@pytest.mark.parametrize("args", [["--limit", "0"], ["/nonexistent-directory"]])
def test_command_usage_errors(args):
    result = run(*args)
    assert result.returncode == 2 and "error" in result.stderr
