"""The `gamifyhost-mock` command. With no subcommand it runs `serve`."""
from __future__ import annotations

from pathlib import Path

import click

from . import create_app
from .auth import KeysFileError


class _ServeByDefault(click.Group):
    """A group that treats `gamifyhost-mock [OPTIONS]` as `gamifyhost-mock serve [OPTIONS]`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ServeByDefault)
def main() -> None:
    """Offline mock of the GamifyHost User Journeys API (Track / Enrich User)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4010, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--keys", "keys_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of partners and keys; without it any well-formed pk_ key works.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker threads in the single server process.")
@click.option("--quiet", is_flag=True, help="Do not log one line per request.")
def serve(host: str, port: int, keys_file: Path | None, threads: int, quiet: bool) -> None:
    """Run the mock on a production WSGI server until Ctrl-C or SIGTERM."""
    from .server import serve as run_server

    try:
        app = create_app({"KEYS_FILE": keys_file})
    except KeysFileError as exc:
        raise click.ClickException(str(exc)) from None
    run_server(app, host, port, threads=threads, access_log=not quiet)
