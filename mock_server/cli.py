"""The `gamifyhost-mock` command. With no subcommand it runs `serve`."""
from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from . import DEFAULTS, create_app
from .auth import KeysFileError
from .bundled import DEMO, demo_fixtures, demo_keys
from .fixtures import FixtureError
from .journeys.profiles import Counts
from .journeys.sqlite import SYNC_MODES, StateFileError
from .logs import LOG_FORMATS, announce, warn
from .state import EXTENSION
from .validation import counted


class _ServeByDefault(click.Group):
    """A group that treats `gamifyhost-mock [OPTIONS]` as `gamifyhost-mock serve [OPTIONS]`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Nothing, or an option that is not the group's own (-h, --version), means serve; a bare
        # word is a command name, and click refuses one that is not ("No such command").
        own = {name for param in self.get_params(ctx) for name in (*param.opts, *param.secondary_opts)}
        if not args or (args[0].startswith("-") and args[0] not in own):
            args = ["serve", *args]
        return super().parse_args(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List each command with the whole first sentence of its help (click would cut it at 45-66 characters)."""
        rows = [(name, command.get_short_help_str(limit=sys.maxsize)) for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _BaseUrl(click.ParamType):
    """The root URL of a server: http:// or https://, a host, maybe a port (a path is kept)."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        parts = urlsplit(str(value))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(f"{value!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:4010)", param, ctx)
        return str(value)


class _DataPath(click.Path):
    """An existing file or folder, or 'demo' for the data the package ships (write ./demo for a folder so named)."""

    def __init__(self, demo: Callable[[], Path], dir_okay: bool = True) -> None:
        super().__init__(exists=True, dir_okay=dir_okay, path_type=Path)
        self._demo = demo

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return self._demo() if value == DEMO else super().convert(value, param, ctx)


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """SIGTERM as sys.exit(0) within the block, and the handler before put back after it: serve, called
    in-process (the CLI's tests), left it in the caller, whose test run then took a SIGTERM for the
    failure of whichever test was under way, and went on."""
    before = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


@click.group(cls=_ServeByDefault, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gamifyhost-mock", prog_name="gamifyhost-mock", message="%(prog)s %(version)s")
def main() -> None:
    """Offline mock of the GamifyHost User Journeys API: users, events, timelines and offers.

    Without a command it runs serve, with the options given: gamifyhost-mock --port 5000.
    """


@main.command()
@click.option("--host", default=DEFAULTS["HOST"], show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULTS["PORT"], show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--keys", "keys_file", type=_DataPath(demo_keys, dir_okay=False),
              help="YAML file of partners and keys, or 'demo' for the demo data set's; without it any "
                   "well-formed pk_ key works.")
@click.option("--threads", default=DEFAULTS["SERVER_THREADS"], show_default=True, type=click.IntRange(1, 64),
              help="Worker threads in the single server process. One is fastest; use more if "
                   "clients call concurrently while latency faults are set (a delay holds its thread).")
@click.option("--fixtures", "fixture_paths", multiple=True, type=_DataPath(demo_fixtures),
              help="Fixture file or folder to preload, or 'demo' for the shipped data set; repeatable.")
@click.option("--state", "state_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep profiles and events in this SQLite database (created if missing): every write "
                   "is committed before it is answered, so they survive a crash and a restart.")
@click.option("--state-sync", type=click.Choice(SYNC_MODES), default=DEFAULTS["STATE_SYNC"], show_default=True,
              help="normal: --state survives the mock crashing or being killed; full: also a power cut "
                   "(each write waits for the disk).")
@click.option("--no-control-api", is_flag=True, help="Turn off everything under /__mock/ (404), and Prefer.")
@click.option("--no-prefer", is_flag=True,
              help="Ignore Prefer headers: no request can force a declared answer (code=, example=).")
@click.option("--cors-origin", "cors_origins", multiple=True,
              help="Origin a browser app may call from (repeatable); default: any origin.")
@click.option("--max-body", default=DEFAULTS["MAX_CONTENT_LENGTH"], show_default=True, type=click.IntRange(1),
              help="Largest request body in bytes; larger ones get 413.")
@click.option("--quiet", is_flag=True, help="Do not log one line per request.")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default=DEFAULTS["LOG_FORMAT"], show_default=True,
              help="text: for people; json: one JSON object per line (requests, start, stop, warnings), "
                   "for log collectors.")
def serve(host: str, port: int, keys_file: Path | None, threads: int, fixture_paths: tuple[Path, ...],
          state_file: Path | None, state_sync: str, no_control_api: bool, no_prefer: bool,
          cors_origins: tuple[str, ...], max_body: int, quiet: bool, log_format: str) -> None:
    """Run the mock on a production WSGI server until Ctrl-C or SIGTERM."""
    from .server import ListenError, listen
    from .server import serve as run_server

    # SIGTERM while loading (before the server's own handler) is a clean stop too, not a kill.
    with _sigterm_exits():
        # The port first: a mock that cannot serve must not load fixtures into a --state file that
        # another mock may be serving from.
        try:
            listener = listen(host, port)
        except ListenError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            app = create_app({"KEYS_FILE": keys_file, "FIXTURES": list(fixture_paths), "STATE_FILE": state_file,
                              "STATE_SYNC": state_sync, "CONTROL_API": not no_control_api, "PREFER": not no_prefer,
                              "CORS_ORIGINS": list(cors_origins) or DEFAULTS["CORS_ORIGINS"],
                              "MAX_CONTENT_LENGTH": max_body, "SERVER_THREADS": threads})
        except (KeysFileError, FixtureError, StateFileError) as exc:
            listener.close()
            raise click.ClickException(str(exc)) from None
        mock = app.extensions[EXTENSION]
        for warning in mock.warnings:
            warn(log_format, warning)
        if mock.loaded_from:
            announce(log_format, f"loaded {_stored(mock.store.counts())} from {', '.join(map(str, mock.loaded_from))}")

        def close_state() -> None:
            kept = mock.store.counts()
            mock.store.close()
            announce(log_format, f"state: {_stored(kept)} kept in {state_file}")

        run_server(app, host, port, threads=threads, access_log=not quiet, on_exit=close_state if state_file else None,
                   log_format=log_format, listener=listener)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--base-url", type=_BaseUrl(), help="Server to test; default: the mock, in-process.")
@click.option("--api-key", help="Public key to call it with (required with --base-url).")
@click.option("--other-api-key", multiple=True,
              help="Key of the other environment or another partner, for the isolation checks; repeatable.")
@click.option("--allow-live", is_flag=True,
              help="Let pk_live_ keys write to a non-loopback URL (without it such other keys only read).")
@click.option("--skip-writes", is_flag=True, help="Only read: the read operations and laws, on the --user ids.")
@click.option("--user", "users", multiple=True, metavar="ID",
              help="An existing user of --api-key for the read laws; repeatable, required with --skip-writes.")
@click.option("--max-examples", type=click.IntRange(1),
              help="Examples per test (default 100; 20 against a URL that is not on this machine).")
@click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True),
              help="Requests per second at most (default none; 5 against a URL not on this machine).")
@click.option("--inferred", type=click.Choice(["fail", "warn"]),
              help="Breaches of x-inferred rules: fail (mock default) or warn (URL default).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report.")
@click.option("--no-shrink", is_flag=True, help="Report failures unminimised (faster).")
@click.option("--app", "app_factory", help="In-process target: module:callable returning a WSGI app.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def contract(base_url: str | None, api_key: str | None, other_api_key: tuple[str, ...], allow_live: bool,
             skip_writes: bool, users: tuple[str, ...], max_examples: int | None, rate_limit: float | None,
             inferred: str | None, junit: Path | None, no_shrink: bool, app_factory: str | None,
             pytest_args: tuple[str, ...]) -> None:
    """Run the contract suite against the mock or a server; exit 0 only if it conforms.

    Exit 1: it does not conform; 4: a usage error or a live key refused; 6: nothing was tested
    (the target refused a key, a --user is not the main key's, or it could not be reached).
    Arguments after the options go to pytest as they are (e.g. -x, -k laws).
    """
    import os

    try:
        import pytest

        import contract_tests
        from contract_tests.progress import Progress
    except ImportError as exc:
        # A usage error (exit 4, as pytest's), not 1, which would read as "does not conform".
        click.echo(f"Error: the contract suite needs its extras ({exc.name} is missing): from a clone of "
                   "gamifyhost-mock, pip install '.[contract]'", err=True)
        sys.exit(4)
    # Hypothesis keeps its example database (and constants cache) in the user's cache, not in
    # whatever folder the command runs from.
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        cache = os.environ.get("XDG_CACHE_HOME", "")
        os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(
            (Path(cache) if os.path.isabs(cache) else Path.home() / ".cache") / "gamifyhost-mock" / "hypothesis")
    suite = Path(contract_tests.__file__).resolve().parent
    # Quiet, with one line per test from Progress instead of pytest's dots and percentages.
    args = [str(suite), "-c", str(suite / "pytest.ini"), "-p", "no:cacheprovider", "--rootdir", str(suite), "-q",
            "-o", "console_output_style=classic", "-rfE"]
    options = {"--base-url": base_url, "--api-key": api_key, "--max-examples": max_examples,
               "--rate-limit": rate_limit, "--inferred": inferred, "--app": app_factory,
               "--junitxml": junit}
    for name, value in options.items():
        if value is not None:
            args += [name, str(value)]
    for key in other_api_key:
        args += ["--other-api-key", key]
    for user in users:
        args += ["--user", user]
    args += ["--allow-live"] * allow_live + ["--skip-writes"] * skip_writes + ["--no-shrink"] * no_shrink
    args += list(pytest_args)
    sys.exit(int(pytest.main(args, plugins=[Progress()])))


@main.command()
@click.option("--base-url", required=True, type=_BaseUrl(),
              help="Server to seed (its root URL): the mock, a test environment, anything.")
@click.option("--api-key", "api_keys", multiple=True,
              help="Send every entry of this key's environment with this key instead of its own "
                   "(one pk_test_ and/or one pk_live_); entries of other environments are skipped.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Requests in flight at once.")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(0, 10),
              help="Retries per entry on 5xx answers and connection errors (exponential backoff).")
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds to wait for each answer.")
@click.option("--allow-live", is_flag=True, help="Allow pk_live_ keys against a non-loopback URL.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when on a terminal).")
@click.argument("paths", nargs=-1, required=True, type=_DataPath(demo_fixtures))
def seed(base_url: str, api_keys: tuple[str, ...], concurrency: int, retries: int, timeout: float,
         allow_live: bool, progress: bool | None, paths: tuple[Path, ...]) -> None:
    """Seed a server with fixture profiles and events via its public API.

    Exits 0 when every entry was accepted, 1 when any failed.
    """
    from .fixtures import check_schema, read_documents
    from .safety import UnsafeTarget, refuse_live_writes
    from .seed import Seeder, Stopped, entries_from, environment_of
    from .spec import load_control_contract

    overrides: dict[str, str] = {}
    for key in api_keys:
        if not key.startswith(("pk_test_", "pk_live_")):
            raise click.BadParameter(f"{key!r} is not a pk_test_/pk_live_ key", param_hint="--api-key")
        if overrides.setdefault(environment_of(key), key) != key:
            raise click.BadParameter("give at most one key per environment", param_hint="--api-key")
    control = load_control_contract()
    validator = control.validator(control.request_schema_ref("loadFixtures"))
    try:
        documents = read_documents(paths)
        check_schema(documents, validator)
    except FixtureError as exc:
        raise click.ClickException(str(exc)) from None
    entries, skipped = entries_from(documents, overrides)
    try:
        refuse_live_writes(base_url, {e.api_key for e in entries}, allow_live, "seeding writes profiles there")
    except UnsafeTarget as exc:
        raise click.ClickException(str(exc)) from None
    show = sys.stderr.isatty() if progress is None else progress
    try:
        report = Seeder(base_url, retries=retries, timeout=timeout).run(entries, concurrency, show)
    except Stopped as exc:
        raise click.ClickException(str(exc)) from None
    report.skipped = skipped
    for origin, detail in report.failures:
        click.echo(f"failed: {origin}: {detail}", err=True)
    left_out = sum(entry.offers_left_out for entry in entries)
    if left_out:
        click.echo(f"note: {counted(left_out, 'offer')} not sent: the public API cannot place offers "
                   "(--fixtures and POST /__mock/fixtures load them into a mock)", err=True)
    click.echo(f"seeded {base_url}: {report.created} created, {report.updated} updated, "
               f"{len(report.failures)} failed, {report.skipped} skipped")
    sys.exit(1 if report.failures else 0)


def _stored(counts: Counts) -> str:
    """`66 profiles, 176 events and 4 offers`; events and offers only when there are any
    (`40 profiles`, `66 profiles and 176 events`)."""
    parts = [counted(counts.profiles, "profile")]
    parts += [counted(n, what) for n, what in ((counts.events, "event"), (counts.offers, "offer")) if n]
    return " and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else parts[0]
