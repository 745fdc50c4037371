"""One line per test for `gamifyhost-mock contract`, in place of pytest's dots.

pytest's verbose lines name a test by its path from the current directory, which for an
installed kit is a long way into site-packages; these lines name the test alone.
"""
from __future__ import annotations

from typing import Any

import pytest

WORDS = {"passed": "PASSED", "skipped": "SKIPPED"}
COLOURS = {"PASSED": "green", "SKIPPED": "yellow"}


class Progress:
    """A pytest plugin: a test's name when it starts, its outcome (and time or reason) when it ends.

    Meant for a quiet run (-q, console_output_style=classic), whose own per-test output it blanks.
    """

    def __init__(self) -> None:
        self._writer: Any = None
        self._open = False  # a test's name is written and its outcome not yet

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._writer = session.config.get_terminal_writer()

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> Any:
        category, _letter, word = yield
        return category, "", word  # no dot: the outcome is on the test's line

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self._writer.write(f"{location[2]} ", flush=True)
        self._open = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.passed and report.when != "call":
            return
        word = WORDS.get(report.outcome, "FAILED" if report.when == "call" else "ERROR")
        if report.skipped and isinstance(report.longrepr, tuple):
            detail = f" ({report.longrepr[2].removeprefix('Skipped: ')})"
        else:
            detail = f" ({report.duration:.1f} s)" if report.when == "call" else f" (in {report.when})"
        if not self._open:
            self._writer.write(f"{report.head_line} ")
        self._writer.line(word + detail, **{COLOURS.get(word, "red"): True})
        self._open = False
