"""The shape of the distribution: the split between core and interface (what ships:
tests/test_wheel.py)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


# Modules of core the interface may import besides the service: plain values and checks,
# no I/O. Every other module of core must be in the contract's forbidden list.
VALUE_MODULES = {"results", "errors", "targets", "settings", "validation", "progress"}


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}


def test_import_contracts_hold() -> None:
    """The layering of pyproject.toml's contracts, checked by import-linter itself."""
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(_contracts())} kept, 0 broken" in proc.stdout


def test_every_module_of_core_is_behind_the_service_or_a_plain_value() -> None:
    """A new module of core is either a value the interface may use or forbidden to it:
    the contract cannot silently let the interface in by a side door."""
    forbidden = _contracts()["the interface enters core through the service"]
    listed = {str(m).removeprefix("vectorctl.core.") for m in forbidden["forbidden_modules"]}
    modules = {
        p.stem if p.is_file() else p.name
        for p in (ROOT / "core").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert modules - listed - VALUE_MODULES - {"service"} == set()
    assert listed & (VALUE_MODULES | {"service"}) == set()
    assert listed <= modules  # no stale names


def test_scripted_commands_import_neither_torch_nor_textual() -> None:
    code = (
        "import sys, vectorctl.tui.cli, vectorctl.core.service, vectorctl.core.store, "
        "vectorctl.core.protocol, vectorctl.core.orphans;"
        "bad = [m for m in ('torch', 'open_clip', 'textual') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
