"""Test fixtures: real servers (`ocrgw serve` under uvicorn on 127.0.0.1, real worker processes, real
SQLite and Tesseract), real keys (the first one a server makes, others made with the real CLI), and the
documents of tests/data."""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import httpx
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Something a test needs from the machine (a service, a program, a font) is missing: skip the test
    here, but fail it under CI=true, where .ci/run and ./dev.sh install everything and a skip would hide a
    broken setup behind a green run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must have it)")
    pytest.skip(reason)


def doc(name: str) -> Path:
    """A document of tests/data by its manifest name (`page/tess_phototest.tif`); tests/data/README.md says
    where each comes from. They are in the repository, so a missing one is a broken checkout, not a skip."""
    path = TEST_DATA / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not in the checkout (tests/data/README.md lists the documents)")
    return path


def slow_page_image() -> Image.Image:
    """A page a worker reads in a second or two: the top-left quarter of the multi-column scan (1656 x 1275
    px at 300 DPI, ~40 lines). Long enough to kill or stop a worker in the middle of it, or to keep one busy
    while a backlog fills; the whole scan (~5 s a page now) made those tests wait for nothing."""
    from PIL import Image

    scan = Image.open(doc("multicol/tess_8071_093.3B.tif"))
    return scan.crop((0, 0, scan.width // 2, scan.height // 2))


@functools.cache
def slow_page() -> bytes:
    """`slow_page_image` as a PNG."""
    buf = io.BytesIO()
    slow_page_image().save(buf, "PNG", dpi=(300, 300))
    return buf.getvalue()


@functools.cache
def manifest() -> dict[str, dict]:
    """Every row of tests/data/manifest.jsonl by document name."""
    rows = (json.loads(line) for line in (TEST_DATA / "manifest.jsonl").read_text().splitlines() if line.strip())
    return {row["image"]: row for row in rows}


def manifest_row(name: str) -> dict:
    """A document's ground truth: `text` (lines joined with newlines) and `lines` (`text`, `bbox` as
    [x0, y0, x1, y1] in the image's pixels; empty for the page-level tesseract-ocr/test pages)."""
    return manifest()[name]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ocrgw_cli(data_dir: Path, *args: str, env: dict | None = None) -> str:
    return _run_cli(list(args), {**os.environ, "OCRGW_DATA_DIR": str(data_dir), **(env or {})})


def _run_cli(args: list[str], env: dict[str, str]) -> str:
    """`ocrgw ARGS`' output; a failure raises with what it printed (CalledProcessError's message has none)."""
    out = subprocess.run(
        [sys.executable, "-m", "ocrgw.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        raise RuntimeError(f"ocrgw {' '.join(args)} exited {out.returncode}:\n{out.stdout}{out.stderr[-4000:]}")
    return out.stdout


@dataclass
class Server:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    key: str = ""
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> Server:
        """Start `ocrgw serve` and wait for /health. Without a key yet, the server's own first-start key is
        the test key (read from its log): a `keys create` beforehand cost a second Python process (~1 s)
        per server start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OCRGW_DATA_DIR": str(self.data_dir), "OCRGW_WORKERS": str(self.workers), **self.env}
        self.log_path = self.data_dir / f"server-{self.port}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process's life
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ocrgw.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    if not self.key and self.env.get("OCRGW_AUTH") != "off":
                        self.key = self._first_key()
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def _first_key(self) -> str:
        """The key `serve` made and printed on its first start (before it listened); when it made none (keys
        existed, or OCRGW_BOOTSTRAP_KEY=false), a new one from `keys create`."""
        _, found, rest = self.log().partition("Ocp-Apim-Subscription-Key: ")
        if found:
            return rest.split()[0]
        return ocrgw_cli(self.data_dir, "keys", "create", "--name", "tests", "-q", env=self.env).strip()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        import psutil

        if not self.proc:
            return []
        pids = []
        for c in psutil.Process(self.proc.pid).children(recursive=True):
            try:  # a replaced worker not reaped yet is a zombie, whose command line psutil refuses
                if "spawn_main" in " ".join(c.cmdline()):
                    pids.append(c.pid)
            except (psutil.ZombieProcess, psutil.NoSuchProcess):
                continue
        return pids

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig) if sig == signal.SIGKILL else self.proc.send_signal(sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": self.key} if self.key else {}

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'ocrgw.db'}"

    def query(self, sql: str, **params: object) -> list[tuple]:
        """Rows from the server's own database, whichever it is (SQLite or PostgreSQL)."""
        import sqlalchemy as sa

        engine = sa.create_engine(
            self.database_url.replace("postgresql://", "postgresql+psycopg://"), poolclass=sa.pool.NullPool
        )
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql), params)]
        finally:
            engine.dispose()

    def cleanup(self) -> None:
        """Release what outlives a stop (a scale-out server's database)."""

    def cli(self, *args: str) -> str:
        """Run `ocrgw ...` against this deployment's database (keys, migrate)."""
        return ocrgw_cli(self.data_dir, *args, env=self.env)


# ---------------------------------------------------------------------------------------- scale-out
PG_ADMIN_URL = os.environ.get("OCRGW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


class RedisServer:
    """A private redis-server on a free loopback port (no persistence, like the machine's), so tests can
    restart it and never share a queue with anything else."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


def scaleout_available() -> bool:
    import shutil

    try:
        _pg_admin("SELECT 1")
    except Exception:
        return False
    return shutil.which("redis-server") is not None


_DB_COUNTER = iter(range(1, 10**6))


@dataclass
class ScaleoutServer(Server):
    """The scale-out deployment on loopback: PostgreSQL (a fresh database), a private Redis, `ocrgw api`
    processes and `ocrgw worker` (Celery) processes, documents in the database blob store."""

    redis: RedisServer | None = None
    apis: int = 1
    worker_processes: int = 1
    db_name: str = ""
    api_procs: list = field(default_factory=list)
    worker_procs: list = field(default_factory=list)
    extra_ports: list = field(default_factory=list)
    # Each deployment its own queue, so workers never take another deployment's job ids.
    queue_name: str = field(default_factory=lambda: f"ocrgw-test-{os.getpid()}-{next(_DB_COUNTER)}")

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.db_name}"

    @property
    def urls(self) -> list[str]:
        return [self.url] + [f"http://127.0.0.1:{p}" for p in self.extra_ports]

    def _env(self) -> dict[str, str]:
        assert self.redis is not None
        return {
            **os.environ,
            "OCRGW_DATA_DIR": str(self.data_dir),
            "OCRGW_DATABASE_URL": self.database_url,
            "OCRGW_QUEUE": "celery",
            "OCRGW_BROKER_URL": f"{self.redis.url}/0",
            "OCRGW_CELERY_QUEUE": self.queue_name,
            "OCRGW_BLOB_STORE": "database",
            "OCRGW_REAPER_INTERVAL_SECONDS": "1",
            **self.env,
        }

    def cli(self, *args: str) -> str:
        return _run_cli(list(args), self._env())

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the process's life
        return subprocess.Popen(
            [sys.executable, "-m", "ocrgw.cli", *args],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self, timeout: float = 90) -> ScaleoutServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.db_name:
            self.db_name = f"ocrgw_test_{os.getpid()}_{next(_DB_COUNTER)}"
            _pg_admin(f"CREATE DATABASE {self.db_name}")
            if self.key or self.env.get("OCRGW_AUTH") == "off":
                self.cli("migrate")
        if not self.key and self.env.get("OCRGW_AUTH") != "off":
            self.key = self.cli("keys", "create", "-q").strip()  # migrates first, as `ocrgw migrate` does
        while len(self.extra_ports) < self.apis - 1:
            self.extra_ports.append(free_port())
        for port in [self.port, *self.extra_ports]:
            self.api_procs.append(
                self._spawn(
                    ["api", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], f"api-{port}"
                )
            )
        self.proc = self.api_procs[0]
        for i in range(self.worker_processes):
            self.start_worker(i)
        deadline = time.monotonic() + timeout
        for url in self.urls:
            while True:
                if any(p.poll() is not None for p in self.api_procs + self.worker_procs):
                    raise RuntimeError(f"a scale-out process exited early:\n{self.log()}")
                try:
                    if httpx.get(url + "/ready", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"scale-out API did not get ready:\n{self.log()}")
                time.sleep(0.05)
        while not all(  # Celery's " ready.", then each child's warm-up (the first job otherwise waits for it)
            " ready." in (text := (self.data_dir / f"worker-{i}.log").read_text(errors="replace"))
            and text.count(" warmed in ") >= self.workers
            for i in range(len(self.worker_procs))
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers did not get ready:\n{self.log()}")
            time.sleep(0.05)
        return self

    def start_worker(self, index: int) -> None:
        log = self.data_dir / f"worker-{index}.log"
        log.write_text("")
        proc = self._spawn(["worker", "--concurrency", str(self.workers), "--log-level", "info"], f"worker-{index}")
        if index < len(self.worker_procs):
            self.worker_procs[index] = proc
        else:
            self.worker_procs.append(proc)

    def log(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(self.data_dir.glob("*.log"))
        )

    def worker_pids(self) -> list[int]:
        import psutil

        pids = []
        for proc in self.worker_procs:
            if proc.poll() is None:
                pids += [c.pid for c in psutil.Process(proc.pid).children()]
        return pids

    def stop_workers(self, sig: int = signal.SIGKILL) -> None:
        for proc in self.worker_procs:
            _stop(proc, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        for proc in self.api_procs + self.worker_procs:
            _stop(proc, sig, timeout)
        self.api_procs, self.worker_procs, self.proc = [], [], None

    def cleanup(self) -> None:
        if self.db_name:
            with contextlib.suppress(Exception):
                _pg_admin(f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")


def _stop(proc: subprocess.Popen, sig: int, timeout: float = 30) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if not scaleout_available():
        unavailable("PostgreSQL on 127.0.0.1:5432 and redis-server are needed for scale-out (.ci/run starts them)")
    srv = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield srv
    srv.stop()


# The S3-compatible store the shared servers' Textract reads S3Object documents from: moto's S3 on loopback,
# started on this port by the `s3_url` fixture only when a test needs it (a server connects per request).
S3_PORT = free_port()
SHARED_ENV = {
    "OCRGW_MAX_UPLOAD_BYTES": str(8 * 1024 * 1024),
    "OCRGW_S3_ENDPOINT_URL": f"http://127.0.0.1:{S3_PORT}",
    "OCRGW_S3_ACCESS_KEY_ID": "test",
    "OCRGW_S3_SECRET_ACCESS_KEY": "test",
}


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    """moto's S3 server (in a thread of the test process) at the shared servers' OCRGW_S3_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=S3_PORT, verbose=False)
    moto.start()
    yield f"http://127.0.0.1:{S3_PORT}"
    moto.stop()


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared embedded server (SQLite, two local workers, default settings but an 8 MiB upload limit):
    `server`'s embedded deployment, and the server of tests that need the embedded default but not a
    server of their own (a start costs seconds). Kept for the session, so `server` switching to scale-out
    and back does not start it again."""
    srv = Server(tmp_path_factory.mktemp("srv"), env=SHARED_ENV).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second shared embedded server, like `embedded_server` but fetching URL sources on loopback and
    private addresses (OCRGW_URL_ALLOW_PRIVATE), for the tests whose sources are a local http.server. A
    fetch gives up after 2 s (OCRGW_URL_FETCH_TIMEOUT): ample for a file on loopback, and test_bad_input's
    sources that never answer or dribble time out in seconds, not the default 30. Callbacks are retried
    after 0.5 s, 1 s, ... and looked for every 0.2 s (test_native_jobs' callback test, to a local receiver)."""
    env = {
        **SHARED_ENV,
        "OCRGW_URL_ALLOW_PRIVATE": "true",
        "OCRGW_URL_FETCH_TIMEOUT": "2",
        "OCRGW_CALLBACK_RETRY_BASE_SECONDS": "0.5",
        "OCRGW_CALLBACK_POLL_SECONDS": "0.2",
    }
    srv = Server(tmp_path_factory.mktemp("private"), env=env).start()
    yield srv
    srv.stop()


@pytest.fixture
def own_key(embedded_server: Server) -> Server:
    """The shared embedded server seen through a new key of the test's own, for a test that counts what its
    key sees (job lists, idempotency keys) and must not see the other tests' jobs."""
    srv = copy.copy(embedded_server)
    srv.key = embedded_server.cli("keys", "create", "--name", "own", "-q").strip()
    return srv


@pytest.fixture(scope="session")
def scaleout_server(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleoutServer]:
    """The shared scale-out deployment (PostgreSQL, Celery over Redis, database blobs, two warm children),
    `server`'s scale-out side. Its own session fixture, started once and kept, like `embedded_server`:
    as a parameter of a session fixture it was stopped and started again whenever the tests a process ran
    switched deployment, which under pytest-xdist's per-file distribution was once per file (~10 s each)."""
    srv = ScaleoutServer(tmp_path_factory.mktemp("scaleout"), env=SHARED_ENV, redis=redis_server, workers=2)
    srv.start()
    yield srv
    srv.stop()
    srv.cleanup()


@pytest.fixture(scope="module", params=["embedded", "scaleout"])
def server(request: pytest.FixtureRequest) -> Server:
    """One shared server per deployment for the contract tests: the embedded default (SQLite, local
    workers) and scale-out (PostgreSQL, Celery over Redis, database blobs). Loopback URL sources are
    allowed only where a test says so. Both are session fixtures; this one only picks, per module."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator:
    started: list[Server] = []

    def factory(**kw) -> Server:
        kw.setdefault("data_dir", tmp_path / f"data{len(started)}")
        srv = Server(**kw)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop(signal.SIGKILL)
        srv.cleanup()


@pytest.fixture
def make_scaleout(tmp_path: Path, redis_server: RedisServer) -> Iterator:
    started: list[ScaleoutServer] = []

    def factory(**kw) -> ScaleoutServer:
        kw.setdefault("data_dir", tmp_path / f"scaleout{len(started)}")
        kw.setdefault("redis", redis_server)
        srv = ScaleoutServer(**kw)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop(signal.SIGKILL)
        srv.cleanup()


def submit_and_wait(
    srv: Server,
    body: bytes,
    *,
    query: str = "",
    timeout: float = 60,
    content_type: str = "application/octet-stream",
    path: str = "/vision/v3.2/read/analyze",
) -> dict:
    """An Azure-style submit of raw bytes (Read v3.2 unless ``path`` names another analyze route) and its
    Operation-Location polled to the end."""
    r = httpx.post(
        f"{srv.url}{path}{query}",
        content=body,
        headers={**srv.headers, "Content-Type": content_type},
        timeout=60,
    )
    assert r.status_code == 202, r.text
    return poll(srv, r.headers["Operation-Location"], timeout=timeout)


def native_result(srv: Server, data: bytes, filename: str = "document", timeout: float = 120, **fields: str) -> dict:
    """A native /v1 job submitted as a multipart file (with form ``fields``) and, once it succeeded, its
    result."""
    headers = {"X-API-Key": srv.key}
    r = httpx.post(srv.url + "/v1/jobs", headers=headers, files={"file": (filename, data)}, data=fields, timeout=60)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + timeout
    while True:
        op = httpx.get(r.headers["Location"], headers=headers, timeout=30).json()
        if op["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert op["status"] == "succeeded", op
    return httpx.get(op["links"]["result"], headers=headers, timeout=30).json()


def poll(srv: Server, location: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(location, headers=srv.headers, timeout=30).json()
        if body["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)
