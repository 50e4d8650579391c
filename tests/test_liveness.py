"""Telling a running process from a dead one whose pid may have been reused, on real
processes of this machine."""

from __future__ import annotations

import dataclasses
import subprocess
import time

from vectorctl.core.liveness import ProcessIdentity, _stat


def identity_of(pid: int) -> ProcessIdentity:
    """What a process's own `ProcessIdentity.current()` would have said."""
    here = ProcessIdentity.current()
    return dataclasses.replace(here, pid=pid, started=_stat(pid)[1])


def test_this_process_is_alive() -> None:
    assert ProcessIdentity.current().alive() is True


def test_a_process_is_alive_until_it_exits_even_unreaped() -> None:
    child = subprocess.Popen(["sleep", "30"])
    time.sleep(0.05)
    identity = identity_of(child.pid)
    assert identity.alive() is True
    child.kill()
    time.sleep(0.1)
    assert identity.alive() is False  # a zombie: gone, not yet reaped
    child.wait()
    assert identity.alive() is False


def test_a_reused_pid_is_not_taken_for_the_process_that_had_it() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.05)
        started = _stat(child.pid)[1]
        assert started is not None
        earlier = dataclasses.replace(identity_of(child.pid), started=started - 100)
        assert earlier.alive() is False
    finally:
        child.kill()
        child.wait()


def test_another_boot_is_dead_but_another_machine_or_host_cannot_be_judged() -> None:
    here = ProcessIdentity.current()
    assert dataclasses.replace(here, boot_id="00000000-rebooted").alive() is False
    clone = dataclasses.replace(here, boot_id="00000000-other", machine_id="another machine")
    assert clone.alive() is None
    assert dataclasses.replace(here, host="elsewhere").alive() is None


def test_rows_written_before_identities_had_more_than_host_and_pid_still_read() -> None:
    old = ProcessIdentity.from_dict({"host": ProcessIdentity.current().host, "pid": 2**22 + 7})
    assert old is not None and old.alive() is False
    assert ProcessIdentity.from_dict({"pid": 5}) is None


def test_the_compact_token_keeps_what_judging_needs() -> None:
    here = ProcessIdentity.current()
    back = ProcessIdentity.from_token(here.token())
    assert back is not None
    assert (back.host, back.pid, back.started) == (here.host, here.pid, here.started)
    assert back.alive() is True
