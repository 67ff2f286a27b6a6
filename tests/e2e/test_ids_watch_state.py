"""ids watch through the guest's own life: paused and resumed, rebooted, gone. Watch must
report each as a state event and carry on (or stop, when the policy says so) — never crash."""
import json
import os
import socket
import subprocess
import time

import pytest

from test_ids_watch import Watch

INTERVAL = 1.0


def states(w, since=0):
    return [a["evidence"]["state"] for a in w.alerts(since) if a.get("event") == "state"]


def wait_state(w, state, since, timeout):
    hits = w.wait(lambda a: a.get("event") == "state" and a["evidence"]["state"] == state,
                  since, timeout)
    assert hits, f"no {state} event: {w.alerts(since)} / {w.errpath.read_text()}"
    return hits[0]


def test_pause_resume_and_reboot(guest_factory, tmp_path):
    g = guest_factory(reboot=True)
    w = Watch(tmp_path, g.mem_path, interval=INTERVAL)
    try:
        time.sleep(3 * INTERVAL)
        assert w.alerts() == [], w.alerts()
        g.pause()
        ev = wait_state(w, "paused", 0, 20)
        assert ev["check"] == "guest-state" and ev["target"] == {"kind": "vm", "id": g.mem_path}
        g.resume()
        wait_state(w, "resumed", 0, 20)
        # a reset reboots the same kernel at a new KASLR slide
        mark = w.mark()
        g.qmp("system_reset")
        wait_state(w, "rebooted", mark, 180)
        # one outage, one event: retries while the new kernel boots stay quiet
        assert states(w, mark).count("unreadable") <= 1, states(w, mark)
        # after the reboot, watch finds the kernel again and the guest is clean
        g._wait_for(rb"vigil-init: ready", 0, 300)
        with g._cond:
            g._pos = len(g._out)
        time.sleep(5 * INTERVAL)
        assert [a for a in w.alerts(mark) if a.get("event") == "alert"] == []
        # and an attack after the reboot is seen through the rediscovered kernel
        g.run("ip link set vg-dummy0 promisc on")
        hit = w.wait(lambda a: a.get("event") == "alert" and a["check"] == "promisc-interface",
                     mark, 30)
        assert hit, w.alerts(mark)
        assert w.proc.poll() is None
    finally:
        rc = w.stop()
    assert rc == 0, w.errpath.read_text()


def init_task_tasks_pa(run_vigil, mem_path):
    """Where init_task.tasks.next (the head of the task list) sits in the RAM file. Its
    offset is found from the list itself: the head points at the first task's own `tasks`
    field, at the same offset. The kernel image is physically contiguous and the test
    guest's RAM is below 4 GiB, so file offset and physical address agree."""
    rc, out, err = run_vigil("vmi", "info", "--vm", mem_path, "-j")
    assert rc == 0, err
    info = json.loads(out)
    rc, out, err = run_vigil("vmi", "ps", "--vm", mem_path, "-j")
    assert rc == 0, err
    first = next(int(t["task"], 16) for t in json.loads(out) if t["pid"] == 1)
    rc, out, err = run_vigil("vmi", "read", "--vm", mem_path, "init_task", "16384", "-j")
    assert rc == 0, err
    rd = json.loads(out)
    raw = bytes.fromhex(rd["hex"])
    offs = [o for o in range(0, len(raw) - 8, 8)
            if int.from_bytes(raw[o:o + 8], "little") == first + o]
    assert len(offs) == 1, offs
    va = int(rd["address"], 16) + offs[0]
    return va - int(info["text_va"], 16) + int(info["text_pa"], 16)


def test_torn_kernel_is_unreadable_then_readable_not_rebooted(guest_factory, tmp_path,
                                                              run_vigil):
    """Looks that fail while the kernel's clock is fine (torn or hostile memory, here the
    head of the task list overwritten while the guest is paused) are one 'unreadable' event; the
    same kernel readable again is 'readable', and its findings were never resolved."""
    g = guest_factory()
    g.run("ip link set vg-dummy0 promisc on")
    pa = init_task_tasks_pa(run_vigil, g.mem_path)
    w = Watch(tmp_path, g.mem_path, interval=INTERVAL)
    try:
        assert w.wait(lambda a: a.get("check") == "promisc-interface", 0, 30), w.alerts()
        g.pause()
        wait_state(w, "paused", 0, 20)
        mark = w.mark()
        with open(g.mem_path, "r+b") as f:
            f.seek(pa)
            saved = f.read(8)
            f.seek(pa)
            f.write(b"\xff" * 8)
        try:
            wait_state(w, "unreadable", mark, 20)
            time.sleep(5 * INTERVAL)  # retries stay quiet
        finally:
            with open(g.mem_path, "r+b") as f:
                f.seek(pa)
                f.write(saved)
        g.resume()
        wait_state(w, "readable", mark, 30)
        time.sleep(3 * INTERVAL)
        after = w.alerts(mark)
        assert states(w, mark).count("unreadable") == 1, after
        assert "rebooted" not in states(w, mark), after
        assert not [a for a in after if a.get("event") == "resolved"], after
        g.run("ip link set vg-dummy0 promisc off")
        assert w.wait(lambda a: a.get("event") == "resolved", mark, 30), w.alerts(mark)
        assert w.proc.poll() is None
    finally:
        rc = w.stop()
    assert rc == 0, w.errpath.read_text()


def test_gone_guest_waits_by_default(guest_factory, tmp_path):
    g = guest_factory()
    w = Watch(tmp_path, g.mem_path, interval=INTERVAL)
    try:
        time.sleep(2 * INTERVAL)
        g.stop()  # QEMU quits and the RAM file is removed
        ev = wait_state(w, "gone", 0, 20)
        assert ev["severity"] == "medium"
        time.sleep(3 * INTERVAL)
        assert w.proc.poll() is None, "watch must keep waiting for the guest"
        assert states(w).count("gone") == 1  # reported once, not every tick
    finally:
        rc = w.stop()
    assert rc == 0


def test_gone_guest_exits_by_policy(guest_factory, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text("[watch]\non-gone = exit\ngone-grace = 1s\n")
    g = guest_factory()
    w = Watch(tmp_path, g.mem_path, "--policy", policy, interval=INTERVAL)
    try:
        time.sleep(2 * INTERVAL)
        g.stop()
        w.proc.wait(30)
        assert w.proc.returncode == 0, w.errpath.read_text()
        assert states(w) == ["gone"]
    finally:
        w.stop()


def test_watch_bad_input(tmp_path, run_vigil):
    bad = tmp_path / "bad.policy"
    bad.write_text("[watch]\ninterval = often\n")
    rc, _, err = run_vigil("ids", "watch", "--vm", "/nonexistent", "--policy", bad)
    assert rc == 2 and "policy line 2" in err
    rc, _, err = run_vigil("ids", "watch", "--vm", "/x", "--interval", "1ms")
    assert rc == 2 and "--interval" in err
    rc, _, err = run_vigil("ids", "watch", "--vm", "/x", "--output", "tcp:1.2.3.4")
    assert rc == 2 and "file:PATH" in err
    rc, _, err = run_vigil("ids", "serve", "--vm", "/x")
    assert rc == 2 and "--socket" in err
    notsock = tmp_path / "plain"
    notsock.write_text("keep me")
    rc, _, err = run_vigil("ids", "serve", "--vm", "/x", "--socket", notsock, timeout=30)
    assert rc == 2 and "not a socket" in err and notsock.read_text() == "keep me"
    junk = tmp_path / "junk.baseline"
    junk.write_text('{"vigil_baseline": 1, "kernel": {}, "modules": "x"}')
    rc, _, err = run_vigil("ids", "scan", "--vm", "/x", "--baseline", junk)
    assert rc == 2 and "baseline" in err


def test_missing_guest_at_start_is_waited_for(tmp_path):
    """A watch started before its guest exists reports it gone and keeps going."""
    w = Watch(tmp_path, str(tmp_path / "not-yet"), interval=INTERVAL)
    try:
        wait_state(w, "gone", 0, 20)
        assert w.proc.poll() is None
    finally:
        assert w.stop() == 0


def test_syslog_output(guest, tmp_path):
    """--output syslog reaches /dev/log; the test listens there in its own mount namespace."""
    sock = tmp_path / "log.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(sock))
    s.settimeout(60)
    guest.run("ip link set vg-dummy0 promisc on")
    try:
        from conftest import VIGIL_BIN
        # a private /dev (tmpfs) with the host's /dev/shm bound back in and our socket as
        # /dev/log: nothing on the host's /dev changes
        d = tmp_path
        script = (f"set -e; mkdir -p {d}/shm; mount --bind /dev/shm {d}/shm; "
                  f"mount -t tmpfs none /dev; mkdir /dev/shm; mount --bind {d}/shm /dev/shm; "
                  f"touch /dev/log; mount --bind {sock} /dev/log; "
                  f"exec {VIGIL_BIN} ids watch --vm {guest.mem_path} --interval 1s "
                  f"--output syslog --check promisc-interface")
        p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                             stderr=subprocess.PIPE)
        try:
            msg = s.recv(4096).decode()
        finally:
            p.terminate()
            p.wait(20)
    finally:
        guest.run("ip link set vg-dummy0 promisc off")
        s.close()
    # <daemon.warning> = 3*8+4 = 28
    assert msg.startswith("<28>") and '"check":"promisc-interface"' in msg, msg
