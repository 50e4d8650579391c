"""The shape of the distribution: the split between core and interface, and what ships."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_core_never_imports_the_interface() -> None:
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)} imports {n}"
                for n in names
                if n.split(".")[0] in ("tui", "textual")
            ]
    assert offenders == []


def test_scripted_commands_import_neither_torch_nor_textual() -> None:
    code = (
        "import sys, tui.cli, core.service, core.store, core.protocol, core.orphans;"
        "bad = [m for m in ('torch', 'open_clip', 'textual') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_wheel_contains_styles_and_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("vectorctl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("styles/") and n.endswith(".tcss") for n in names), names
    assert any(n.startswith("core/db/migrations/") for n in names), names
    assert "tui/cli.py" in names and "core/service.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "vectorctl = tui.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
