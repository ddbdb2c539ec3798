"""Render the CLI reference (docs/cli.md) from the click commands themselves.

    python -m mlvc.cli.reference > docs/cli.md

A test checks that docs/cli.md matches, so the reference cannot drift from the code.
"""

from __future__ import annotations

import click

from mlvc.cli.main import COMMANDS, cli

HEADER = """# CLI reference

Generated from the commands' own help by `python -m mlvc.cli.reference > docs/cli.md`.
Exit codes: 0 success; 1 the operation failed, or `status -q` found differences; 2 usage
error. Errors print `error: …` and, where it helps, `hint: …` on stderr.
"""


def _help(command: click.Command, name: str) -> str:
    ctx = click.Context(command, info_name=name, terminal_width=100, max_content_width=100)
    return command.get_help(ctx)


def render() -> str:
    parts = [HEADER, "## mlvc\n", "```text", _help(cli, "mlvc"), "```\n"]
    for name in sorted(COMMANDS):
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        parts += [f"## mlvc {name}\n", "```text", _help(command, f"mlvc {name}"), "```\n"]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
