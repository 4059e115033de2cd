"""Tests marked ``@pytest.mark.loopback_namespace`` run inside a network namespace that has
only the loopback interface (``unshare --net``): there Ray can only advertise 127.0.0.1, and
a test's cluster is invisible to every other process on the machine and its ports.

Outside such a namespace, the first marked test runs every marked test of the session in one
child ``python -m pytest NODEID...`` under ``unshare --net`` (with ``--map-root-user`` when not
root), and each marked test reports the child's result for it: passed, failed (with the
child's traceback), skipped (with the child's reason). A test the child did not report (it
crashed, could not be collected, ``unshare`` is not allowed here) FAILS with the child's exit
code and output: nothing is skipped silently. Inside the namespace the tests simply run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from _pytest.reports import TestReport

from vigil.cluster.local import in_loopback_namespace, loopback_namespace_command

MARKER = "loopback_namespace"
#: In the child: the file each test report is appended to, one JSON object a line.
REPORTS_ENV = "VIGIL_NETNS_REPORTS"
_results = pytest.StashKey[dict[str, list[TestReport]]]()
_child_output = pytest.StashKey[str]()
_configs: list[pytest.Config] = []  # the session's config, for the report hook


def pytest_configure(config: pytest.Config) -> None:
    _configs[:] = [config]
    config.addinivalue_line(
        "markers",
        f"{MARKER}: runs inside a loopback-only network namespace (re-run there in a child "
        "pytest when the session is outside one; tests/cluster/conftest.py)",
    )


@pytest.fixture
def outside_loopback_namespace() -> None:
    """Skips, saying why, a test of the re-run itself where the session already runs inside
    a loopback-only namespace (nothing would be re-run)."""
    if in_loopback_namespace():
        pytest.skip("checks the re-run into a namespace: this session already runs inside one")


def namespace_command(nodeids: list[str], config: pytest.Config) -> list[str]:
    """The child pytest that runs `nodeids` inside a new loopback-only network namespace."""
    pytest_args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    pytest_args += ["--rootdir", str(config.rootpath)]
    if config.inipath is not None:
        pytest_args += ["-c", str(config.inipath)]
    return loopback_namespace_command([*pytest_args, *nodeids])


def run_in_namespace(session: pytest.Session) -> None:
    """Run every marked test of `session` in one child inside a namespace; keep its reports."""
    config = session.config
    nodeids = [item.nodeid for item in session.items if item.get_closest_marker(MARKER)]
    results: dict[str, list[TestReport]] = {nodeid: [] for nodeid in nodeids}
    with tempfile.NamedTemporaryFile(prefix="vigil-netns-", suffix=".jsonl") as reports:
        env = dict(os.environ, **{REPORTS_ENV: reports.name})
        try:
            child = subprocess.run(
                namespace_command(nodeids, config), cwd=config.rootpath, env=env,
                stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
            )  # fmt: skip
            output = f"exit code {child.returncode}\n{child.stdout}{child.stderr}"
        except OSError as error:  # no unshare
            output = f"could not run the namespace: {error}"
        for line in Path(reports.name).read_text().splitlines():
            report = config.hook.pytest_report_from_serializable(
                config=config, data=json.loads(line)
            )
            if isinstance(report.longrepr, list):  # a skip's (path, line, reason) in JSON
                report.longrepr = tuple(report.longrepr)
            if report.nodeid in results:
                results[report.nodeid].append(report)
    config.stash[_results] = results
    config.stash[_child_output] = output


def completed(item: pytest.Item, reports: list[TestReport], output: str) -> list[TestReport]:
    """`reports` of the child, completed where the child stopped short of the test's teardown
    (it died, or never ran the test): the missing phase fails, with the child's output."""
    if any(report.when == "teardown" for report in reports):
        return reports
    phases = {report.when for report in reports}
    message = (
        f"{item.nodeid}: no result from the run inside the loopback namespace\n{output[-8000:]}"
    )

    def report(when: str, outcome: str, longrepr: str | None = None) -> TestReport:
        return TestReport(item.nodeid, item.location, {}, outcome, longrepr, when)

    missing = [report("setup", "passed")] if "setup" not in phases else []
    if "call" in phases:
        return [*reports, *missing, report("teardown", "failed", message)]
    return [*reports, *missing, report("call", "failed", message), report("teardown", "passed")]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if not item.get_closest_marker(MARKER) or in_loopback_namespace():
        return None
    if _results not in item.config.stash:
        run_in_namespace(item.session)
    reports = completed(
        item, item.config.stash[_results].get(item.nodeid, []), item.config.stash[_child_output]
    )
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    # As pytest's own protocol ends a test: tear down what the next test does not share (a
    # module of unmarked tests set up before this one), or the next test's setup fails.
    item.session._setupstate.teardown_exact(nextitem)
    return True


def pytest_runtest_logreport(report: TestReport) -> None:
    """In the child: hand every report of this directory's tests to the parent."""
    path = os.environ.get(REPORTS_ENV)
    if path and _configs:
        config = _configs[0]
        data = config.hook.pytest_report_to_serializable(config=config, report=report)
        with open(path, "a") as out:
            out.write(json.dumps(data) + "\n")
