"""The pytest plugin of the complyd wheel (entry point ``pytest11``).

Fixtures:

- ``complyd``: a fresh tenant (:class:`complyd.Tenant`) of a running server for each test:
  ``url``, ``id``, ``token(...)``, ``graph`` / ``graph_beta`` (official SDK clients), ``reset()``,
  ``request(...)``, ``server``.
- ``complyd_server``: the :class:`complyd.Server` behind it, one per session (default) or per test
  (``--complyd-scope function`` or ``complyd_scope = function`` in the ini file).

``@pytest.mark.complyd("--fidelity", "intune")`` gives one test a server of its own with those
``complyd serve`` options. When a test fails, the server's log lines written during the test are
shown with its report.
"""

from __future__ import annotations

import pytest

from . import Server

SCOPES = ("session", "function")
_LOG = pytest.StashKey()
_STARTS = pytest.StashKey()


def pytest_addoption(parser):
    group = parser.getgroup("complyd")
    group.addoption("--complyd-scope", choices=SCOPES, default=None,
                    help="one complyd per session (default) or per test")
    group.addoption("--complyd-arg", action="append", default=[], metavar="OPTION",
                    help="an extra `complyd serve` option, e.g. --complyd-arg=--fidelity=intune (repeatable)")
    parser.addini("complyd_scope", "one complyd per session (default) or per test (function)", default="session")
    parser.addini("complyd_args", "extra `complyd serve` options", type="args", default=[])


def pytest_configure(config):
    config.addinivalue_line("markers", "complyd(*options): this test gets a complyd of its own, "
                                       "started with these `complyd serve` options")


def _scope(fixture_name, config):
    scope = config.getoption("complyd_scope") or config.getini("complyd_scope") or "session"
    if scope not in SCOPES:
        raise pytest.UsageError(f"complyd_scope is one of {', '.join(SCOPES)}, not {scope!r}")
    return scope


def _serve_args(config):
    return [*config.getini("complyd_args"), *config.getoption("complyd_arg")]


@pytest.fixture(scope=_scope)
def complyd_server(request):
    """A running complyd (temporary data folder, free port), stopped when the scope ends."""
    with Server(_serve_args(request.config)) as server:
        _record(request.config, server)
        yield server


@pytest.fixture
def complyd(request):
    """A new tenant of a running complyd, for this test only."""
    marker = request.node.get_closest_marker("complyd")
    if marker is None:
        server = request.getfixturevalue("complyd_server")
        request.node.stash[_LOG] = (server, server.log_size())
        yield server.tenant()
        return
    with Server([*_serve_args(request.config), *marker.args]) as server:
        _record(request.config, server)
        request.node.stash[_LOG] = (server, 0)
        yield server.tenant()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    logged = item.stash.get(_LOG, None)
    if report.failed and logged is not None:
        server, since = logged
        report.sections.append(("complyd log", server.settled_log(since) or "(empty)"))


def _record(config, server):
    config.stash.setdefault(_STARTS, []).append(server.started)


def pytest_terminal_summary(terminalreporter, config):
    starts = sorted(config.stash.get(_STARTS, []))
    if starts:
        median = starts[len(starts) // 2] * 1000
        terminalreporter.write_line(
            f"complyd: {len(starts)} server(s) started, ready in {median:.0f} ms (median), "
            f"{starts[-1] * 1000:.0f} ms (slowest)")
