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


def render() -> str:
    # Subcommands are rendered under the group's context, as when run, so that they inherit
    # its settings (-h as well as --help) whatever was rendered before.
    top = click.Context(cli, info_name="mlvc", terminal_width=100, max_content_width=100,
                        **cli.context_settings)
    parts = [HEADER, "## mlvc\n", "```text", cli.get_help(top), "```\n"]
    for name in sorted(COMMANDS):
        command = cli.get_command(top, name)
        assert command is not None
        parts += _render(command, name, top)
    return "\n".join(parts)


def _render(command: click.Command, name: str, parent: click.Context) -> list[str]:
    ctx = click.Context(command, info_name=name, parent=parent)
    parts = [f"## {ctx.command_path}\n", "```text", command.get_help(ctx), "```\n"]
    if isinstance(command, click.Group):
        for sub in sorted(command.list_commands(ctx)):
            parts += _render(command.get_command(ctx, sub), sub, ctx)
    return parts


if __name__ == "__main__":
    print(render(), end="")
