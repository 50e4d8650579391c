"""The `vectorctl` command line: the same operations as the console, scriptable.

Exit codes: 0 success, 1 the operation failed, 2 usage or validation error, 3 (worker) jobs
still held by other workers, 4 (drift) payload drift above --max-rate. With --json every
command prints exactly one JSON document on stdout. Textual is imported only when the
console itself is opened (no sub-command), so scripted calls over SSH start fast.

`root` holds the group and what every command shares; the commands live by concern in
`reading`, `deleting`, `training`, `store` and `checks`, ask through `asking` and print
their text through `render`. Importing them here registers them on `cli`.
"""

from vectorctl.tui.cli import checks, deleting, reading, store, training  # noqa: F401  (they register)
from vectorctl.tui.cli.root import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="vectorctl")
