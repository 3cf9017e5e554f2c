#!/usr/bin/env python3
"""Functions and methods in fixexchange/ longer than a limit (default 80 lines).

    python3 tools/longest_functions.py [--limit 80] [ROOT]

Prints one line per function over the limit, longest first (``path:line  name  N lines``),
or "none".  A function is exempt only as a documented hot path: a comment
``# hot path: <measured reason>`` on its ``def`` line or the line above it (above its
decorators); exempt functions are listed with the reason but do not fail.  Exit status 1
when any function that is not exempt is over the limit (tests/test_function_length.py runs
``offenders`` on every test run).
"""
from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fixexchange"
HOT_PATH_MARK = "# hot path:"


@dataclass(frozen=True)
class LongFunction:
    path: Path
    line: int
    name: str  # qualified: Class.method, outer.inner
    length: int
    hot_path_reason: str | None  # the text after "# hot path:", when marked

    def describe(self, root: Path) -> str:
        where = f"{self.path.relative_to(root.parent)}:{self.line}"
        text = f"{where}  {self.name}  {self.length} lines"
        return text + (f"  (exempt, hot path: {self.hot_path_reason})" if self.hot_path_reason else "")


def hot_path_reason(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    for number in (node.lineno, first - 1):  # 1-based: the def line, the line above it
        if 1 <= number <= len(lines) and HOT_PATH_MARK in lines[number - 1]:
            return lines[number - 1].split(HOT_PATH_MARK, 1)[1].strip() or None
    return None


def functions(path: Path) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method in the file, with its qualified name."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((prefix + child.name, child))
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), "")
    return found


def long_functions(root: Path = PACKAGE, limit: int = 80) -> list[LongFunction]:
    """Functions over ``limit`` lines (def line to last line), longest first."""
    result = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for name, node in functions(path):
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                result.append(LongFunction(path, node.lineno, name, length, hot_path_reason(lines, node)))
    return sorted(result, key=lambda f: (-f.length, str(f.path), f.line))


def offenders(root: Path = PACKAGE, limit: int = 80) -> list[LongFunction]:
    """Functions over the limit that are not marked as a hot path."""
    return [f for f in long_functions(root, limit) if f.hot_path_reason is None]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=80, help="most lines a function may have (default 80)")
    ap.add_argument("root", nargs="?", type=Path, default=PACKAGE, help="package directory (default fixexchange/)")
    args = ap.parse_args(argv)
    if args.limit < 1:
        ap.error("--limit must be at least 1")
    if not args.root.is_dir():
        ap.error(f"{args.root}: not a directory")
    root = args.root.resolve()
    found = long_functions(root, args.limit)
    for function in found:
        print(function.describe(root))
    if not found:
        print("none")
    return 1 if any(f.hot_path_reason is None for f in found) else 0


if __name__ == "__main__":
    sys.exit(main())
