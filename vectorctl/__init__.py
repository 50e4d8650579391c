"""vectorctl: the one import name this distribution installs.

The code lives in the repository's top-level folders core/ (everything that is not drawing),
tui/ (the Textual app and the command line) and styles/ (the Textual CSS). They are always
imported as `vectorctl.core`, `vectorctl.tui` and `vectorctl.styles`, never by their folder
names:

- the wheel maps them under vectorctl/ (pyproject.toml, [tool.hatch.build.targets.wheel]
  `sources`), next to this file, so nothing else lands in site-packages;
- in a checkout this folder holds symlinks core -> ../core, tui -> ../tui and
  styles -> ../styles, and the editable install puts the checkout on sys.path
  (`dev-mode-dirs`), so the same names resolve to the same files, for Python, mypy and
  import-linter alike.
"""
