"""complyd for test suites: start the server the wheel installed, mint its tokens, hand out
tenants with ready Graph clients. The pytest fixture (``complyd.pytest_plugin``) is built on
:class:`Server` and :class:`Tenant`; both work without pytest too::

    with complyd.Server() as server:
        tenant = server.tenant()
        policies = tenant.graph.device_management.device_compliance_policies
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterable, Optional, Sequence

__all__ = ["Server", "Tenant", "binary", "scratch_dir", "EVERY_AREA", "RESET_PERMISSION", "StartError"]

# Delegated permissions that reach every area complyd serves (read-write where there is a write).
EVERY_AREA = (
    "DeviceManagementConfiguration.ReadWrite.All",
    "DeviceManagementRBAC.ReadWrite.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementApps.Read.All",
    "Directory.ReadWrite.All",
)
# complyd's own permission for DELETE /complyd/v1/tenant (no Graph app holds it).
RESET_PERMISSION = "Complyd.Tenant.Reset"
READY_LINE = "listening on "
# How long the server may take to print its address before start-up counts as failed.
START_TIMEOUT = 30.0


# complyd is on loopback: no proxy settings apply to it.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StartError(RuntimeError):
    """The server did not come up; the message carries its log."""


def scratch_dir() -> Optional[str]:
    """Where servers keep their temporary data: ``COMPLYD_TMPDIR``, else ``/dev/shm`` when it is
    a writable folder (memory: a fresh store starts in milliseconds there, not tens of them
    waiting for fsync), else the system's temporary folder."""
    chosen = os.environ.get("COMPLYD_TMPDIR")
    if chosen:
        return chosen
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        return "/dev/shm"
    return None


def binary() -> str:
    """The complyd executable: ``COMPLYD_BIN``, else the one this wheel installed, else PATH."""
    explicit = os.environ.get("COMPLYD_BIN")
    if explicit:
        return explicit
    name = "complyd.exe" if os.name == "nt" else "complyd"
    for scheme in (None, f"{os.name}_user"):
        try:
            scripts = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:
            continue
        candidate = Path(scripts) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError("no complyd binary: set COMPLYD_BIN, pip install complyd, or put it on PATH")


class Server:
    """One ``complyd serve`` on a free port of 127.0.0.1 with a temporary data folder (in
    :func:`scratch_dir`).

    ``started`` is how long it took, in seconds, from spawning to the printed address (the store
    is open by then). Extra ``serve`` options go in ``args`` (``["--fidelity", "intune"]``).
    """

    def __init__(self, args: Sequence[str] = (), executable: Optional[str] = None) -> None:
        self.executable = executable or binary()
        self.args = list(args)
        self.secret = uuid.uuid4().hex
        self.url = ""
        self.started = 0.0
        self._workdir: Optional[tempfile.TemporaryDirectory] = None
        self._process: Optional[subprocess.Popen] = None
        self._tokens: dict = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "Server":
        self._workdir = tempfile.TemporaryDirectory(prefix="complyd-", dir=scratch_dir())
        root = Path(self._workdir.name)
        self.data_dir = root / "data"
        self.log_path = root / "complyd.log"
        began = time.perf_counter()
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [self.executable, "serve", "--listen", "127.0.0.1:0", "--data", str(self.data_dir), *self.args],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=self._env(),
            )
        try:
            self.url = self._read_address()
        except BaseException:
            self.stop()
            raise
        self.started = time.perf_counter() - began
        return self

    def _env(self) -> dict:
        """The environment of complyd's processes: the HS256 secret (not on a command line)."""
        return dict(os.environ, COMPLYD_JWT_SECRET=self.secret)

    def _read_address(self) -> str:
        """Reads stdout until the ``listening on URL`` line; the server's log on failure."""
        assert self._process is not None and self._process.stdout is not None
        out = self._process.stdout
        deadline = time.monotonic() + START_TIMEOUT
        buffered = b""
        with selectors.DefaultSelector() as selector:
            selector.register(out, selectors.EVENT_READ)
            while b"\n" not in buffered:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise StartError(f"complyd printed no address within {START_TIMEOUT:.0f} s\n{self.log()}")
                chunk = os.read(out.fileno(), 4096)
                if not chunk:
                    code = self._process.wait()
                    raise StartError(f"complyd exited with {code} before listening\n{self.log()}")
                buffered += chunk
        line = buffered.split(b"\n", 1)[0].decode()
        if not line.startswith(READY_LINE):
            raise StartError(f"unexpected first line from complyd: {line!r}\n{self.log()}")
        return line[len(READY_LINE):].strip()

    def stop(self) -> None:
        """SIGTERM (the server drains and exits 0), then a kill if it lingers; removes the data."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> "Server":
        return self.start() if self._process is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self, since: int = 0) -> str:
        """The server's log (stderr) from byte offset ``since``."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    def settled_log(self, since: int = 0) -> str:
        """As ``log``, once the access log has written what it holds: it writes in batches about
        a millisecond after each request, so a failure's own request may not be on disk yet."""
        size = -1
        for _ in range(20):
            if size == self.log_size():
                break
            size = self.log_size()
            time.sleep(0.005)
        return self.log(since)

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except (OSError, AttributeError):
            return 0

    # ------------------------------------------------------------------ tokens and tenants

    def token(self, tenant: str, scopes: Iterable[str] = (), roles: Iterable[str] = (),
              app_only: bool = False, lifetime: int = 3600) -> str:
        """A bearer token from ``complyd token`` (the server's own minting): delegated with
        ``scopes`` (default: :data:`EVERY_AREA`), or app-only with ``roles``."""
        scopes, roles = tuple(scopes), tuple(roles)
        app_only = app_only or bool(roles)
        if not scopes and not roles:
            scopes = () if app_only else EVERY_AREA
            roles = EVERY_AREA if app_only else ()
        key = (tenant, scopes, roles, app_only, lifetime)
        cached = self._tokens.get(key)
        if cached is not None and cached[1] > time.time() + 60:
            return cached[0]
        command = [self.executable, "token", "--data", str(self.data_dir), "--tenant", tenant,
                   "--lifetime", str(lifetime)]
        if app_only:
            command += ["--app-only", "--roles", ",".join(roles)]
        else:
            command += ["--scopes", ",".join(scopes)]
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=self._env())
        if done.returncode != 0:
            raise RuntimeError(f"complyd token failed: {done.stderr.strip()}")
        token = done.stdout.strip()
        self._tokens[key] = (token, time.time() + lifetime)
        return token

    def tenant(self, tenant_id: Optional[str] = None) -> "Tenant":
        """A tenant of this server: a new one (a fresh GUID) unless ``tenant_id`` is given."""
        return Tenant(self, tenant_id or str(uuid.uuid4()))

    def request(self, method: str, path: str, token: str, body: Optional[dict] = None) -> tuple:
        """A plain HTTP call (no SDK needed): ``(status, parsed JSON body or None)``."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with _DIRECT.open(req, timeout=30) as res:
                status, text = res.status, res.read()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read()
        return status, (json.loads(text) if text else None)


class Tenant:
    """One tenant of a running server, as a test sees it."""

    def __init__(self, server: Server, tenant_id: str) -> None:
        self.server = server
        self.id = tenant_id
        self.url = server.url
        self._clients: dict = {}
        # Clock controls (moving the server's time) belong here once complyd has them; until
        # then this stays None.
        self.clock = None

    def token(self, scopes: Iterable[str] = (), roles: Iterable[str] = (), app_only: bool = False,
              tenant: Optional[str] = None, lifetime: int = 3600) -> str:
        """A token of this tenant (or of ``tenant``); every area read-write by default."""
        return self.server.token(tenant or self.id, scopes, roles, app_only, lifetime)

    def reset(self) -> int:
        """Empties the tenant (``DELETE /complyd/v1/tenant``); answers how many rows it held."""
        status, body = self.server.request("DELETE", "/complyd/v1/tenant", self.token([RESET_PERMISSION]))
        if status != 200:
            raise RuntimeError(f"reset failed: {status} {body}")
        return int(body["deleted"])

    def request(self, method: str, path: str, body: Optional[dict] = None, token: Optional[str] = None) -> tuple:
        """A plain HTTP call as this tenant: ``(status, JSON body)``; ``path`` like ``/v1.0/...``."""
        return self.server.request(method, path, token or self.token(), body)

    def graph_client(self, version: str = "v1.0", token: Optional[str] = None):
        """A ``GraphServiceClient`` of msgraph-sdk (``v1.0``) or msgraph-beta-sdk (``beta``) on
        this server, with this tenant's token (or ``token``)."""
        from ._graph import graph_client

        return graph_client(self.url, version, token or self.token())

    @property
    def graph(self):
        """The v1.0 ``GraphServiceClient`` (needs msgraph-sdk), every area read-write."""
        if "v1.0" not in self._clients:
            self._clients["v1.0"] = self.graph_client("v1.0")
        return self._clients["v1.0"]

    @property
    def graph_beta(self):
        """The beta ``GraphServiceClient`` (needs msgraph-beta-sdk), every area read-write."""
        if "beta" not in self._clients:
            self._clients["beta"] = self.graph_client("beta")
        return self._clients["beta"]
