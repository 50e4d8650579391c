"""What the wheel installs: one import name, `vectorctl`, and nothing beside it.

The repository keeps core/, tui/ and styles/ at its root; the wheel maps them to
vectorctl/core, vectorctl/tui and vectorctl/styles (pyproject.toml, `sources`). A top-level
`core` or `tui` in site-packages would be overwritten by, and deleted with, any other
distribution that ships one. Built offline (`--no-isolation`: the build tools come with the
dev extra), then installed without dependencies into a directory and imported from there.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIST_INFO = "vectorctl-"


def _build(*args: str, outdir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built straight from the checkout, as `pip install .` does."""
    out = tmp_path_factory.mktemp("wheel")
    _build("--wheel", outdir=out)
    (built,) = out.glob("vectorctl-*.whl")
    return built


def _check_names(names: list[str]) -> None:
    outside = [n for n in names if not n.startswith("vectorctl/") and not n.startswith(DIST_INFO)]
    assert outside == [], outside
    assert "vectorctl/__init__.py" in names
    for module in ("vectorctl.tui.cli", "vectorctl.tui.__main__", "vectorctl.core.service"):
        path = module.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, module
    assert any(n.startswith("vectorctl/styles/") and n.endswith(".tcss") for n in names), names
    assert any(n.startswith("vectorctl/core/db/migrations/versions/") for n in names), names
    assert "vectorctl/core/db/migrations/script.py.mako" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names), names
    # Regular packages all the way down to the code (not namespace packages).
    for package in ("vectorctl", "vectorctl/core", "vectorctl/tui"):
        assert f"{package}/__init__.py" in names, package


def _check_entry_point(archive: zipfile.ZipFile) -> None:
    entry_points = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
    assert "vectorctl = vectorctl.tui.cli:main" in archive.read(entry_points).decode()


def test_wheel_holds_only_the_vectorctl_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        _check_names(names)
        _check_entry_point(archive)
        # The wheel carries every source file of the three folders, and no other.
        for folder, suffixes in (("core", (".py", ".mako")), ("tui", (".py",))):
            on_disk = {
                f"vectorctl/{p.relative_to(ROOT).as_posix()}"
                for p in (ROOT / folder).rglob("*")
                if p.suffix in suffixes and "__pycache__" not in p.parts
            }
            assert on_disk <= set(names), sorted(on_disk - set(names))
        tcss = {f"vectorctl/styles/{p.name}" for p in (ROOT / "styles").glob("*.tcss")}
        assert tcss and tcss <= set(names)


def test_wheel_built_from_the_sdist_is_the_same(wheel: Path, tmp_path: Path) -> None:
    """`python -m build` builds the wheel from the sdist: the same files must come out."""
    _build(outdir=tmp_path)
    (sdist,) = tmp_path.glob("vectorctl-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = [m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name]
    assert "vectorctl/__init__.py" in members and "core/service.py" in members
    (from_sdist,) = tmp_path.glob("vectorctl-*.whl")
    with zipfile.ZipFile(wheel) as a, zipfile.ZipFile(from_sdist) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())


def test_installed_wheel_imports_and_finds_its_styles(wheel: Path, tmp_path: Path) -> None:
    """Installed (no dependencies: those of this environment serve) into a directory ahead of
    the checkout on sys.path: the app's CSS files are found under that directory and parse."""
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    installed = {p.name for p in target.iterdir()} - {"bin"}  # bin: the console script
    assert installed == {"vectorctl", wheel.name.split("-py3")[0] + ".dist-info"}, installed
    code = (
        "import sys, vectorctl, vectorctl.tui.app as app\n"
        "from pathlib import Path\n"
        "from textual.app import App\n"
        "from textual.css.stylesheet import Stylesheet\n"
        "where = Path(sys.argv[1]).resolve()\n"
        "assert Path(vectorctl.__file__).resolve().parent == where / 'vectorctl', vectorctl\n"
        "paths = [Path(p) for p in app.VectorctlApp.CSS_PATH]\n"
        "assert paths and all(p.is_file() for p in paths), paths\n"
        "assert all(p.resolve().parent == where / 'vectorctl' / 'styles' for p in paths), paths\n"
        "sheet = Stylesheet(variables=App().get_css_variables())\n"
        "sheet.read_all(paths)\n"
        "sheet.parse()\n"
        "from vectorctl.tui.cli import main\n"
        "sys.argv = ['vectorctl', '--version']\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        cwd=tmp_path,  # not the checkout, whose vectorctl/ would otherwise come first
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "vectorctl" in proc.stdout and "0." in proc.stdout


def test_nothing_imports_the_folders_by_their_own_names() -> None:
    """`core`/`tui` are importable from a checkout too (it is on sys.path); importing them
    so would load a second copy of every module beside `vectorctl.core`."""
    offenders = []
    for folder in ("core", "tui", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                offenders += [
                    f"{path.relative_to(ROOT)}:{node.lineno} imports {n}"
                    for n in names
                    if n.split(".")[0] in ("core", "tui", "styles")
                ]
    assert offenders == []


def test_checkout_package_links_to_the_folders() -> None:
    """The editable install adds the checkout to sys.path; vectorctl/ there must lead to the
    very folders the wheel maps (a checkout without symlink support breaks this)."""
    for name in ("core", "tui", "styles"):
        link = ROOT / "vectorctl" / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve(), link
    import vectorctl.core

    assert Path(vectorctl.core.__file__).resolve() == (ROOT / "core" / "__init__.py").resolve()
