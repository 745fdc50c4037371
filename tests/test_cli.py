"""The gamifyhost-mock command itself: help, version, and which words mean which command."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from mock_server.auth import derived_partner_id
from mock_server.cli import main
from mock_server.fixtures import read_documents

from live_server import free_port


def run(runner, *args: str, **extra):
    """The command as a user types it (named gamifyhost-mock, as its console script is)."""
    return runner.invoke(main, list(args), prog_name="gamifyhost-mock", **extra)


def test_version_comes_from_the_package_metadata(runner):
    result = run(runner, "--version")
    assert (result.exit_code, result.output) == (0, f"gamifyhost-mock {version('gamifyhost-mock')}\n")


@pytest.mark.parametrize("command", [[], ["serve"], ["seed"], ["contract"]])
def test_dash_h_is_help_everywhere(runner, command):
    short, long = run(runner, *command, "-h"), run(runner, *command, "--help")
    assert (short.exit_code, long.exit_code) == (0, 0)
    assert short.output == long.output
    assert short.output.startswith(f"Usage: gamifyhost-mock {command[0] + ' ' if command else ''}[OPTIONS]")


def test_top_level_help_gives_each_command_its_whole_first_sentence(runner):
    output = run(runner, "--help", terminal_width=80).output
    commands = output[output.index("Commands:\n"):].splitlines()
    assert commands[0] == "Commands:"
    assert "  seed      Seed a server with fixture profiles and events via its public API." in commands
    assert "  serve     Run the mock on a production WSGI server until Ctrl-C or SIGTERM." in commands
    listed = " ".join(" ".join(line.split()) for line in commands[1:])
    for name, command in main.commands.items():
        first_sentence = " ".join(command.help.split(".")[0].split()) + "."
        assert f"{name} {first_sentence}" in listed
    assert "..." not in listed


def test_a_misspelt_command_is_no_such_command(runner):
    result = run(runner, "sed")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "Usage: gamifyhost-mock [OPTIONS] COMMAND [ARGS]...",
        "Try 'gamifyhost-mock --help' for help.",
        "",
        "Error: No such command 'sed'. Did you mean 'seed'?",
    ]


def dont_listen(monkeypatch) -> None:
    """Let the command get as far as serving without taking a real port (4010 may be in use)."""
    monkeypatch.setattr("mock_server.server.listen", lambda host, port: socket.socket())


@pytest.mark.parametrize("args, port", [([], 4010), (["--port", "5000"], 5000), (["--quiet", "--port", "5001"], 5001)])
def test_no_command_or_options_alone_mean_serve(runner, monkeypatch, args, port):
    started = []
    dont_listen(monkeypatch)
    monkeypatch.setattr("mock_server.server.serve", lambda app, host, port, **options: started.append((host, port)))
    result = run(runner, *args)
    assert result.exit_code == 0, result.output
    assert started == [("127.0.0.1", port)]


def test_serve_options_are_checked_by_serve(runner):
    result = run(runner, "--port", "0")
    assert result.exit_code == 2
    assert result.output.startswith("Usage: gamifyhost-mock serve [OPTIONS]")
    assert "Invalid value for '--port': 0 is not in the range 1<=x<=65535." in result.output


def served_app(runner, monkeypatch, *args: str):
    """Run `gamifyhost-mock ARGS` up to the point of serving; return its output and the app it would serve."""
    apps = []
    dont_listen(monkeypatch)
    monkeypatch.setattr("mock_server.server.serve", lambda app, *rest, **options: apps.append(app))
    result = run(runner, *args)
    assert result.exit_code == 0, result.output
    return result.output, apps[0]


def test_fixtures_demo_is_the_shipped_data_set_and_keys_demo_its_keys(runner, monkeypatch):
    root = Path(__file__).resolve().parent.parent
    output, app = served_app(runner, monkeypatch, "--fixtures", "demo", "--keys", "demo")
    documents = [doc for _, doc in read_documents([root / "fixtures"])]
    shipped = sum(len(doc["profiles"]) for doc in documents)
    events = sum(len(entry.get("events", ())) for doc in documents for entry in doc["profiles"])
    offers = sum(len(entry.get("offers", ())) for doc in documents for entry in doc["profiles"])
    assert output == f"loaded {shipped} profiles, {events} events and {offers} offers from {root / 'fixtures'}\n"
    refused = app.test_client().post("/v1/user-journeys/users", json={"externalId": "x"},
                                     headers={"X-API-Key": "pk_test_revoked_key"})
    assert refused.get_json()["message"] == "API key has been revoked"  # examples/keys.yaml is in force


def test_fixtures_demo_loads_without_a_keys_file_too(runner, monkeypatch):
    """Its keys are well-formed pk_ keys, so without --keys they authenticate as derived partners."""
    output, app = served_app(runner, monkeypatch, "--fixtures", "demo")
    profiles = app.test_client().get("/__mock/profiles?limit=100").get_json()
    assert output.startswith(f"loaded {profiles['meta']['total']} profiles, ")
    assert profiles["meta"]["total"] >= 50
    assert {p["partnerId"] for p in profiles["data"]} >= {derived_partner_id("globex")}


def test_a_path_that_does_not_exist_is_still_refused(runner):
    result = run(runner, "--fixtures", "demo.yaml")
    assert result.exit_code == 2
    assert "Invalid value for '--fixtures': Path 'demo.yaml' does not exist." in result.output


def test_seed_demo_is_the_shipped_data_set(runner):
    """`seed demo` reads and checks the data set, then finds nothing listening at the URL."""
    url = f"http://127.0.0.1:{free_port()}"
    result = run(runner, "seed", "--base-url", url, "demo")
    assert result.exit_code == 1
    assert result.output == f"Error: cannot reach {url} (Connection refused); nothing was sent\n"


def test_contract_without_its_extras_is_a_usage_error_not_a_failed_contract():
    script = ("import sys\n"
              "sys.modules['pytest'] = None  # as if the [contract] extras were not installed\n"
              "from mock_server.cli import main\n"
              "main(['contract'], prog_name='gamifyhost-mock')\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout, run.stderr) == (
        4, "", "Error: the contract suite needs its extras (pytest is missing): from a clone of "
               "gamifyhost-mock, pip install '.[contract]'\n")


def test_serve_called_in_process_leaves_the_callers_sigterm_handler_as_it_was(runner, tmp_path):
    """serve turned SIGTERM into sys.exit(0) for good: a test run that had called it then took a SIGTERM
    (CI cancelling, say) for the failure of the test under way, and went on."""
    bad = tmp_path / "keys.yaml"
    bad.write_text("not: [a keys file")
    before = signal.getsignal(signal.SIGTERM)
    result = run(runner, "serve", "--port", str(free_port()), "--keys", str(bad))
    assert result.exit_code == 1, result.output
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("args, forced", [([], True), (["--no-prefer"], False), (["--no-control-api"], False)])
def test_no_prefer_and_no_control_api_turn_forced_answers_off(runner, monkeypatch, args, forced):
    _, app = served_app(runner, monkeypatch, *args)
    answer = app.test_client().get("/v1/user-journeys/users/nobody", headers={
        "X-API-Key": "pk_test_cli", "Prefer": "code=200"})
    assert (answer.status_code, "Preference-Applied" in answer.headers) == ((200, True) if forced else (404, False))
    assert app.config["PREFER"] is not (args == ["--no-prefer"])
