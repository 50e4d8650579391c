"""Global options wherever they are typed: `vectorctl stats --data-dir X` as well as
`vectorctl --data-dir X stats`.

click takes a group's options only before the sub-command's name. An operator who adds
`--collection` at the end of a command they just ran (the usual way to edit a shell line)
got "no such option". Here the group moves each of its options found after the
sub-command to the front before click parses, unless the sub-command has an option of the
same name (`demo --data-dir` is the demo's own).
"""

from __future__ import annotations

from typing import Any

import click


class GlobalOptionsGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist(self, args))


def _options(command: click.Command) -> dict[str, click.Option]:
    return {
        name: param
        for param in command.params
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    }


def _takes_value(option: click.Option, token: str) -> bool:
    """Whether the option's value is the next argument (not a flag, not `--opt=value`)."""
    return not option.is_flag and not option.count and "=" not in token


def _own_options(command: click.Command | None) -> dict[str, click.Option]:
    """A sub-command's options, its own sub-commands' included (a group's `clean`)."""
    if command is None:
        return {}
    found = _options(command)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found.update(_own_options(sub))
    return found


def hoist(group: click.Group, args: list[str]) -> list[str]:
    """`args` with the group's options moved before the sub-command."""
    globals_ = _options(group)
    index = 0
    while index < len(args):  # the group's own options, up to the sub-command's name
        token = args[index]
        if token == "--" or not token.startswith("-"):
            break
        option = globals_.get(token.split("=", 1)[0])
        index += 2 if option is not None and _takes_value(option, token) else 1
    if index >= len(args) or args[index] == "--":
        return args
    command = group.commands.get(args[index])
    own = _own_options(command)
    head, tail = list(args[:index]), [args[index]]
    rest: list[Any] = args[index + 1 :]
    position = 0
    while position < len(rest):
        token = rest[position]
        if token == "--":
            tail += rest[position:]
            break
        name = token.split("=", 1)[0]
        if name in own:
            take = 2 if _takes_value(own[name], token) else 1
            tail += rest[position : position + take]
            position += take
        elif name in globals_:
            take = 2 if _takes_value(globals_[name], token) else 1
            head += rest[position : position + take]
            position += take
        elif _flag_cluster(token, globals_):
            head.append(token)
            position += 1
        else:
            tail.append(token)
            position += 1
    return head + tail


def _flag_cluster(token: str, options: dict[str, click.Option]) -> bool:
    """`-vv`, `-qv`: short flags of the group written together."""
    if token.startswith("--") or not token.startswith("-") or len(token) < 3:
        return False
    flags = [options.get(f"-{char}") for char in token[1:]]
    return all(f is not None and (f.is_flag or f.count) for f in flags)
