"""Workers that are killed, stopped, or outlast their lease: real processes and real signals.

One image of the queue is a named pipe: decoding it blocks until the test writes the picture
into the pipe, so "killed in the middle of a batch" and "a batch longer than the lease" are
states the test sets up, not races it hopes to win.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

from tests.builders import deployment_settings
from tests.commands import global_options
from tests.tiny_clip import TINY_CLIP, TINY_CONFIG, TINY_DIM, TINY_MODEL, make_images
from vectorctl.core.db.engine import create_db_engine, session_factory
from vectorctl.core.db.migrate import upgrade
from vectorctl.core.db.models import (
    ImageAsset,
    TrainingEvidence,
    TrainingJob,
    TrainingSession,
    utcnow,
)
from vectorctl.core.embedding import Embedder
from vectorctl.core.ingest import scan
from vectorctl.core.jobs import (
    COMPLETED,
    PENDING,
    RUNNING,
    ClaimedJob,
    claim_jobs,
    default_worker_id,
)
from vectorctl.core.liveness import ProcessIdentity
from vectorctl.core.results import WorkerResult
from vectorctl.core.settings import Settings
from vectorctl.core.worker import point_payload, run_worker

pytestmark = pytest.mark.clip

ROOT = Path(__file__).resolve().parents[1]
ELSEWHERE = "gpu-7.elsewhere:4242:99:0a1b2c3d:4026531836:abcdef"  # a worker on another host
T = TypeVar("T")


@pytest.fixture
def cfg(db_url: str, tmp_path: Path) -> Settings:
    return deployment_settings(tmp_path, "local", database_url=db_url, **TINY_CLIP)


@pytest.fixture
def engine(cfg: Settings) -> Iterator[Engine]:
    engine = create_db_engine(cfg.database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


# -- helpers ----------------------------------------------------------------------------------


def _queue(engine: Engine, tmp_path: Path, count: int) -> list[Path]:
    """`count` images scanned into one session; job i embeds the i-th path (sorted)."""
    paths = make_images(tmp_path / "photos", [f"2024/img{i:02}.jpg" for i in range(count)])
    scan(session_factory(engine), tmp_path / "photos")
    return sorted(paths)


def _block(path: Path) -> bytes:
    """Turn the image into a named pipe: its decode waits until `_unblock`. Returns the
    picture."""
    picture = path.read_bytes()
    path.unlink()
    os.mkfifo(path)
    return picture


def _unblock(path: Path, picture: bytes) -> None:
    """Write the picture into the pipe once the decode thread has opened it."""
    deadline = time.monotonic() + 30
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:  # ENXIO: nobody reads the pipe yet
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        os.set_blocking(fd, True)
        os.write(fd, picture)  # a few kB: fits the pipe's buffer in one write
    finally:
        os.close(fd)


def _wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while (value := probe()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def _jobs(engine: Engine) -> list[TrainingJob]:
    with session_factory(engine)() as db:
        return list(db.scalars(select(TrainingJob).order_by(TrainingJob.id)))


def _running(engine: Engine, claimer_prefix: str, count: int) -> list[TrainingJob] | None:
    """The RUNNING jobs of the claimer, once there are `count` of them."""
    held = [
        j
        for j in _jobs(engine)
        if j.status == RUNNING and (j.claimed_by or "").startswith(claimer_prefix)
    ]
    return held if len(held) == count else None


def _start_worker(cfg: Settings, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """`vectorctl worker` in a process of its own, on the tiny model (as an open_clip local
    directory, since the test's registration of it does not reach another process)."""
    model = tmp_path / "tiny-model"
    model.mkdir(exist_ok=True)
    (model / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CONFIG}))
    clip = [
        *("--clip-model", f"local-dir:{model}", "--clip-pretrained", "random"),
        *("--device", "cpu", "--vector-size", str(TINY_DIM)),
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "vectorctl.tui", *global_options(cfg), *clip, "worker", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "VECTORCTL_PROFILE": "",
            "OMP_NUM_THREADS": "1",
        },
    )


def _claims_of_process(
    engine: Engine, proc: subprocess.Popen[str], count: int
) -> list[TrainingJob]:
    def probe() -> list[TrainingJob] | None:
        if proc.poll() is not None:
            pytest.fail(f"the worker exited ({proc.returncode}): {proc.communicate()[1]}")
        return _running(engine, f"{socket.gethostname()}:{proc.pid}:", count)

    return _wait_for(f"the worker to claim {count} jobs", probe)


def _dead_identity() -> ProcessIdentity:
    """The identity a worker of this host had before it exited: its pid is gone (or, if
    reused already, belongs to a process started at another time)."""
    child = subprocess.Popen(["true"])
    child.wait()
    here = ProcessIdentity.current()
    return ProcessIdentity(here.host, child.pid, here.started, here.boot_id, here.namespace)


def _cli(cfg: Settings, *args: str) -> Result:
    from vectorctl.tui.cli import cli

    clip = [
        *("--clip-model", TINY_MODEL, "--clip-pretrained", "random"),
        *("--device", "cpu", "--vector-size", str(TINY_DIM)),
    ]
    return CliRunner().invoke(cli, [*global_options(cfg), *clip, *args])


# -- a worker killed or stopped -----------------------------------------------------------------


def test_second_worker_reclaims_jobs_of_killed_worker_at_once(
    cfg: Settings, engine: Engine, embedder: Embedder, tmp_path: Path
) -> None:
    photos = _queue(engine, tmp_path, 10)
    picture = _block(photos[0])  # the first batch stays in flight
    proc = _start_worker(cfg, tmp_path, "--batch-size", "3")
    try:
        held = _claims_of_process(engine, proc, 6)  # the batch and the one read ahead
    finally:
        proc.kill()
        proc.wait()
    photos[0].unlink()
    photos[0].write_bytes(picture)
    lease_ends = min(j.lease_expires_at for j in held if j.lease_expires_at)

    from vectorctl.core.store import open_store

    store = open_store(cfg)
    try:
        result = run_worker(
            cfg, db=session_factory(engine), store=store, embedder=embedder, batch_size=3
        )
        points = store.retrieve([j.asset_id for j in _jobs(engine)])
        assert store.count() == 10
    finally:
        store.close()

    assert utcnow() < lease_ends  # taken over without waiting for the dead worker's lease
    assert (result.embedded, result.failed, result.held_by_others) == (10, 0, 0)
    jobs = _jobs(engine)
    retried = {j.id for j in held}
    assert [(j.status, j.attempts) for j in jobs] == [
        (COMPLETED, 2 if j.id in retried else 1) for j in jobs
    ]
    assert {j.claimed_by for j in jobs} == {result.worker_id}
    with session_factory(engine)() as db:
        assets = {a.id: a for a in db.scalars(select(ImageAsset))}
        evidence = [e.asset_id for e in db.scalars(select(TrainingEvidence))]
        session = db.scalars(select(TrainingSession)).one()
    assert sorted(evidence) == sorted(assets)  # one evidence row per asset
    expected = {
        j.asset_id: point_payload(
            ClaimedJob(
                j.id,
                j.asset_id,
                j.session_id,
                assets[j.asset_id].path,
                assets[j.asset_id].created_at,
                None,
            )
        )
        for j in jobs
    }
    assert {p.id: p.payload for p in points} == expected
    assert (session.status, session.processed_images, session.failed_images) == (COMPLETED, 10, 0)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sigterm_finishes_the_batch_hands_back_the_rest_and_exits_0_when_following(
    cfg: Settings, engine: Engine, tmp_path: Path
) -> None:
    photos = _queue(engine, tmp_path, 10)
    picture = _block(photos[0])
    proc = _start_worker(cfg, tmp_path, "--follow", "--batch-size", "3", "--json")
    try:
        held = _claims_of_process(engine, proc, 6)
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _unblock(photos[0], picture)  # the batch being embedded may finish; nothing more
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert time.monotonic() - signalled < 10
    assert proc.returncode == 0, err
    assert "SIGTERM" in err and "Traceback" not in err
    # A following worker with --json writes NDJSON: what it did is the last line.
    events = [json.loads(line) for line in out.splitlines()]
    summary = events[-1]
    assert events[0]["event"] == "started" and summary["event"] == "result"
    assert summary["cancelled"] is True
    assert (summary["embedded"], summary["released"], summary["held_by_others"]) == (3, 3, 0)
    embedded = {j.id for j in held[:3]}  # the read-ahead batch is held[3:]
    for job in _jobs(engine):
        if job.id in embedded:
            assert (job.status, job.attempts) == (COMPLETED, 1)
        else:  # handed back as if never claimed: the attempt does not count
            assert (job.status, job.claimed_by, job.lease_expires_at, job.attempts) == (
                PENDING,
                None,
                None,
                0,
            )
    with session_factory(engine)() as db:
        session = db.scalars(select(TrainingSession)).one()
    assert (session.status, session.processed_images) == (PENDING, 3)


# -- leases and who holds them ------------------------------------------------------------------


def test_heartbeat_keeps_the_jobs_of_a_batch_that_outlasts_its_lease(
    cfg: Settings, engine: Engine, embedder: Embedder, tmp_path: Path
) -> None:
    from vectorctl.core.store import open_store

    photos = _queue(engine, tmp_path, 3)
    picture = _block(photos[0])
    factory = session_factory(engine)
    worker_id = default_worker_id()
    results: list[WorkerResult] = []
    store = open_store(cfg)
    worker = threading.Thread(
        target=lambda: results.append(
            run_worker(
                cfg,
                db=factory,
                store=store,
                embedder=embedder,
                batch_size=3,
                # Short, so the test passes a lease's end, but not so short that a loaded
                # machine (CI: two test workers and PostgreSQL on two cores) delays one
                # renewal past it: a 1 s lease lost its jobs there once.
                lease_seconds=3.0,
                worker_id=worker_id,
            )
        )
    )
    worker.start()
    try:
        claimed = _wait_for("the claim", lambda: _running(engine, worker_id, 3))
        first_lease = min(j.lease_expires_at for j in claimed if j.lease_expires_at)
        # Time passing beyond the lease is what is tested: no other worker gets the jobs.
        while utcnow() < first_lease + timedelta(seconds=1.5):
            assert claim_jobs(factory, ELSEWHERE, 10, lease_seconds=60) == []
            time.sleep(0.1)
        assert all(j.lease_expires_at and j.lease_expires_at > first_lease for j in _jobs(engine))
    finally:
        _unblock(photos[0], picture)
        worker.join(timeout=60)
        store.close()

    [result] = results
    assert (result.embedded, result.failed, result.lease_lost) == (3, 0, False)
    assert [(j.status, j.attempts, j.claimed_by) for j in _jobs(engine)] == [
        (COMPLETED, 1, worker_id)
    ] * 3


def test_worker_takes_over_dead_local_claims_at_once_and_reports_the_ones_it_cannot_judge(
    cfg: Settings,
    engine: Engine,
    embedder: Embedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VECTORCTL_PROFILE", "")
    _queue(engine, tmp_path, 8)
    factory = session_factory(engine)
    dead = _dead_identity()
    elsewhere = claim_jobs(factory, ELSEWHERE, 2, lease_seconds=600)
    legacy_id = f"{dead.host}:{dead.pid}:abc123"  # an older vectorctl's id: no identity in it
    # Another boot: this host before it restarted, or another machine of the same name.
    other_boot = ProcessIdentity(dead.host, dead.pid, dead.started, "ffffffff", dead.namespace)
    other_boot_id = f"{other_boot.token()}:abcdef"
    unjudged = [
        *claim_jobs(factory, legacy_id, 1, lease_seconds=600),
        *claim_jobs(factory, other_boot_id, 1, lease_seconds=600),
    ]
    gone = claim_jobs(factory, f"{dead.token()}:abcdef", 2, lease_seconds=600)

    first = _cli(cfg, "worker", "--json")

    assert first.exit_code == 3, first.output
    summary = json.loads(first.stdout)
    assert (summary["embedded"], summary["failed"], summary["held_by_others"]) == (4, 0, 4)
    assert {h["worker_id"]: (h["jobs"], h["alive"]) for h in summary["holders"]} == {
        ELSEWHERE: (2, None),
        legacy_id: (1, None),
        other_boot_id: (1, None),
    }
    jobs = {j.id: j for j in _jobs(engine)}
    assert summary["held_until"] == max(
        jobs[j.job_id].lease_expires_at.isoformat()  # type: ignore[union-attr]
        for j in elsewhere + unjudged
    )
    assert all((jobs[j.job_id].status, jobs[j.job_id].attempts) == (COMPLETED, 2) for j in gone)
    assert all(jobs[j.job_id].claimed_by == ELSEWHERE for j in elsewhere)
    assert [jobs[j.job_id].claimed_by for j in unjudged] == [legacy_id, other_boot_id]

    again = _cli(cfg, "worker")

    assert again.exit_code == 3, again.output
    assert "embedded 0, failed 0\n" in again.stdout  # no model loaded for nothing to claim
    assert "4 jobs are held by other workers (" in again.stdout
    assert f"{ELSEWHERE}: 2 jobs, lease until " in again.stdout
    assert "they will be reclaimed at " in again.stdout
    assert "if those workers are gone" in again.stdout


def test_jobs_of_a_dead_worker_are_retried_one_at_a_time_before_new_work(
    engine: Engine, tmp_path: Path
) -> None:
    _queue(engine, tmp_path, 6)
    factory = session_factory(engine)
    orphans = claim_jobs(factory, f"{_dead_identity().token()}:abcdef", 3, lease_seconds=600)
    me = default_worker_id()

    # Nothing is read ahead while a job a worker died holding waits: it must run alone.
    assert claim_jobs(factory, me, 10, read_ahead=True) == []
    for orphan in orphans:
        assert [(j.job_id, j.attempts) for j in claim_jobs(factory, me, 10)] == [(orphan.job_id, 2)]
    fresh = claim_jobs(factory, me, 10, read_ahead=True)
    assert [j.attempts for j in fresh] == [1, 1, 1]


# -- the database out of reach ----------------------------------------------------------------


class _Relay:
    """A TCP relay in front of the PostgreSQL server that the test can cut, as the network
    would: open connections are dropped and new ones closed at once until `restore`."""

    def __init__(self, host: str, port: int):
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._up = False
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if not self._up:
                    _close(client)
                    continue
                server = socket.create_connection(self._target)
                self._open |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def relay(cfg: Settings) -> Iterator[tuple[_Relay, str]]:
    """A relay to the test's database and the URL that goes through it."""
    from sqlalchemy.engine import make_url

    url = make_url(cfg.database_url)
    relay = _Relay(url.host or "127.0.0.1", url.port or 5432)
    yield relay, url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    relay.close()


def _start_in_thread(
    cfg: Settings, url: str, embedder: Embedder, results: list[WorkerResult], **options: object
) -> tuple[str, Callable[[float], None]]:
    """A worker on an engine of its own (through `url`) in a thread; returns its id and a
    function that waits that many seconds for it to finish, then cancels it and cleans up."""
    from vectorctl.core.store import open_store

    worker_engine = create_db_engine(url)
    store = open_store(cfg)
    worker_id = default_worker_id()
    cancel = threading.Event()

    def work() -> None:
        results.append(
            run_worker(
                cfg,
                db=session_factory(worker_engine),
                store=store,
                embedder=embedder,
                worker_id=worker_id,
                cancel=cancel,
                **options,  # type: ignore[arg-type]
            )
        )

    def finish(seconds: float) -> None:
        thread.join(timeout=seconds)
        cancel.set()
        thread.join()
        store.close()
        worker_engine.dispose()

    thread = threading.Thread(target=work)
    thread.start()
    return worker_id, finish


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_heartbeat_rides_out_a_database_outage_shorter_than_the_lease(
    cfg: Settings, engine: Engine, embedder: Embedder, relay: tuple[_Relay, str], tmp_path: Path
) -> None:
    network, url = relay
    photos = _queue(engine, tmp_path, 6)
    picture = _block(photos[0])
    results: list[WorkerResult] = []
    lease = 3.0
    worker_id, finish = _start_in_thread(
        cfg, url, embedder, results, batch_size=3, lease_seconds=lease
    )
    try:
        _wait_for("the claims", lambda: _running(engine, worker_id, 6))
        network.cut()
        time.sleep(1.0)  # the outage itself: longer than a beat, shorter than the lease
        network.restore()
        restored = utcnow()

        def renewed_since() -> bool | None:
            held = _running(engine, worker_id, 6) or []
            fresh = restored + timedelta(seconds=lease - 0.5)
            return all(j.lease_expires_at and j.lease_expires_at > fresh for j in held) or None

        _wait_for("a renewal after the outage", renewed_since, timeout=10)
    finally:
        _unblock(photos[0], picture)
        finish(30)

    [result] = results
    assert (result.embedded, result.failed, result.lease_lost) == (6, 0, False)
    assert {j.status for j in _jobs(engine)} == {COMPLETED}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_worker_out_of_reach_for_a_lease_stops_and_records_nothing_it_no_longer_holds(
    cfg: Settings, engine: Engine, embedder: Embedder, relay: tuple[_Relay, str], tmp_path: Path
) -> None:
    network, url = relay
    photos = _queue(engine, tmp_path, 6)
    picture = _block(photos[0])
    factory = session_factory(engine)
    results: list[WorkerResult] = []
    worker_id, finish = _start_in_thread(
        cfg, url, embedder, results, batch_size=3, lease_seconds=1.0, follow=True
    )
    try:
        held = _wait_for("the claims", lambda: _running(engine, worker_id, 6))
        network.cut()
        last_lease = max(j.lease_expires_at for j in held if j.lease_expires_at)
        _wait_for("the leases to run out", lambda: utcnow() > last_lease or None)
        for _ in held:  # another worker takes the jobs over, one at a time
            assert len(claim_jobs(factory, ELSEWHERE, 10, lease_seconds=600)) == 1
        network.restore()
        time.sleep(0.6)  # the database answers the heartbeat again before the batch ends
    finally:
        _unblock(photos[0], picture)
        finish(30)

    [result] = results  # stopped by itself although following: its claims may be gone
    assert (result.embedded, result.lease_lost, result.cancelled) == (0, True, False)
    assert result.released == 0
    assert [(j.status, j.claimed_by) for j in _jobs(engine)] == [(RUNNING, ELSEWHERE)] * 6
    with session_factory(engine)() as db:
        assert db.scalars(select(TrainingEvidence)).all() == []
