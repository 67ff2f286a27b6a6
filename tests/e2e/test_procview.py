"""The guest's /proc view (`vigil vmi exec` / `vmi mount`) under Debian's own unmodified tools,
compared with what the guest itself says (busybox inside the guest prints other formats, so
sets are compared: pids, commands, users, ports, modules):

- procps ps, net-tools netstat, kmod lsmod, psmisc pstree and procps top run and agree with
  the guest; maps, fd links and status lines equal the guest's own files;
- a process hidden from the task list by the test rootkit is listed and marked;
- the same view works through the broker (remote://), and `vmi mount` serves a directory.
"""
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

import attacks
from conftest import VIGIL_BIN
from guest import EXPECTED_LISTEN_PORTS, EXPECTED_PROCESSES

PID = os.getpid()


def vexec(vm, *cmd, timeout=120):
    r = subprocess.run([str(VIGIL_BIN), "vmi", "exec", "--vm", vm, "--", *map(str, cmd)],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def vigil_ps(vm):
    """[(pid, uid, comm, args)] from procps ps over the view, without ps itself (the command's
    own processes are shown as links to the host)."""
    rc, out, err = vexec(vm, "ps", "-eo", "pid=,uid=,comm=,args=")
    assert rc == 0, err
    rows = []
    for line in out.splitlines():
        f = line.split(None, 3)
        pid, uid, comm = int(f[0]), int(f[1]), f[2]
        args = f[3] if len(f) > 3 else ""
        if comm == "ps" and args.startswith("ps -eo"):
            continue
        rows.append((pid, uid, comm, args))
    return rows


def same_comm(a, b):
    """A workqueue worker's name carries the work it last ran, which changes under us; ps
    cuts a name in a middle column to 15 characters."""
    if a.startswith("kworker") and b.startswith("kworker"):
        return re.split(r"[-+]", a, 1)[0] == re.split(r"[-+]", b, 1)[0]
    return a == b or (len(a) == 15 and b.startswith(a)) or (len(b) == 15 and a.startswith(b))


def test_ps_matches_guest(guest):
    before = {p["pid"]: p for p in guest.guest_ps()}
    rows = vigil_ps(guest.mem_path)
    after = {p["pid"]: p for p in guest.guest_ps()}
    # processes that lived through both of the guest's own listings are stable
    stable = {pid: p for pid, p in before.items()
              if pid in after and same_comm(after[pid]["comm"], p["comm"])}
    ours = {r[0]: r for r in rows}
    assert set(stable) <= set(ours), set(stable) - set(ours)
    assert set(ours) <= set(before) | set(after), "the view invented processes"
    for pid, p in stable.items():
        _, uid, comm, args = ours[pid]
        assert same_comm(comm, p["comm"]), (pid, comm, p)
        assert uid == p["uid"], (pid, uid, p)
        if p["args"]:  # user processes; kernel threads have no argv (ps shows [name])
            assert args == p["args"], (pid, args, p)
        else:
            assert same_comm(args.strip("[]"), comm), (pid, args, comm)
    for want in EXPECTED_PROCESSES:
        assert any(r[3] == want["args"] and r[1] == want["uid"] for r in rows), want


def test_ps_aux_and_top_run(guest):
    rc, out, err = vexec(guest.mem_path, "ps", "aux")
    assert rc == 0, err
    assert out.splitlines()[0].split()[:3] == ["USER", "PID", "%CPU"]
    assert re.search(r"^\S+\s+1\s.*/init", out, re.M)
    rc, out, err = vexec(guest.mem_path, "top", "-bn1")
    assert rc == 0, err
    m = re.search(r"Tasks:\s+(\d+) total", out)
    n_guest = len([p for p in guest.guest_ps() if p["comm"] not in ("sh", "tr")])
    assert m and abs(int(m.group(1)) - n_guest) <= 3, (m and m.group(1), n_guest)
    assert "MiB Mem" in out


def test_netstat_matches_guest(guest):
    rc, out, err = vexec(guest.mem_path, "netstat", "-tlnp")
    assert rc == 0, err
    ours = {}
    for line in out.splitlines():
        f = line.split()
        if f and f[0] in ("tcp", "tcp6") and f[5] == "LISTEN":
            ours[int(f[3].rsplit(":", 1)[1])] = f[6].split("/", 1)
    theirs = set()
    for line in guest.run("netstat -tln").splitlines():
        f = line.split()
        if f and f[0] in ("tcp", "tcp6") and f[-1] == "LISTEN":
            theirs.add(int(f[3].rsplit(":", 1)[1]))
    assert set(ours) == theirs
    assert set(EXPECTED_LISTEN_PORTS) <= set(ours)
    assert ours[80][1] == "httpd" and ours[4242][1] == "vigil-worker"
    assert ours[4242][0] == str(guest_pid(guest, "vigil-worker --mode test"))


def guest_pid(guest, args_prefix):
    return next(p["pid"] for p in guest.guest_ps() if p["args"].startswith(args_prefix))


def test_lsmod_and_pstree(guest):
    rc, out, err = vexec(guest.mem_path, "lsmod")
    assert rc == 0, err
    ours = {f[0]: int(f[1]) for f in (l.split() for l in out.splitlines()[1:])}
    theirs = {m["name"]: m["size"] for m in guest.guest_modules()}
    assert ours == theirs
    rc, out, err = vexec(guest.mem_path, "pstree", "-p")
    assert rc == 0, err
    assert out.startswith("init(1)")
    for want in ("httpd", "vigil-worker", "sleep"):
        assert want in out


def test_files_equal_guest(guest):
    pid = guest_pid(guest, "vigil-worker --mode test")
    rc, maps, err = vexec(guest.mem_path, "cat", f"/proc/{pid}/maps")
    assert rc == 0, err
    theirs = guest.run(f"cat /proc/{pid}/maps")
    norm = lambda t: [" ".join(l.split()) for l in t.splitlines() if l.strip()]
    assert norm(maps) == norm(theirs)
    rc, links, err = vexec(guest.mem_path, "sh", "-c",
                           f"for f in /proc/{pid}/fd/*; do echo ${{f##*/}} $(readlink $f); done")
    assert rc == 0, err
    theirs = guest.run(f"for f in /proc/{pid}/fd/*; do echo ${{f##*/}} $(readlink $f); done")
    assert sorted(links.split("\n")) == sorted(theirs.split("\n"))
    rc, status, err = vexec(guest.mem_path, "cat", f"/proc/{pid}/status")
    assert rc == 0, err
    theirs = guest.run(f"cat /proc/{pid}/status")
    for key in ("Name", "State", "Tgid", "Pid", "PPid", "Uid", "Gid", "Threads"):
        mine = re.search(rf"^{key}:\s*(.*)$", status, re.M).group(1).split()
        real = re.search(rf"^{key}:\s*(.*)$", theirs, re.M).group(1).split()
        assert mine == real, key
    for f in ("version", "cmdline"):
        rc, out, err = vexec(guest.mem_path, "cat", f"/proc/{f}")
        assert out.strip() == guest.run(f"cat /proc/{f}").strip(), f


def test_hidden_process_listed_and_marked(guest):
    attacks.build_rootkit()
    attacks.push_rootkit(guest)
    a = attacks.hide_process(guest)
    try:
        rc, out, err = vexec(guest.mem_path, "cat", "/proc/vigil-hidden")
        assert rc == 0, err
        assert re.search(rf"^{a.pid}\s+sleep\s", out, re.M), out
        rc, out, err = vexec(guest.mem_path, "cat", f"/proc/{a.pid}/status")
        assert "VigilHidden:\tyes" in out
        rows = vigil_ps(guest.mem_path)
        assert (a.pid, a.uid, "sleep", "sleep 4343") in rows
    finally:
        a.undo()


@pytest.fixture(scope="module")
def loopback_broker(guest, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pvbroker")
    pub = {}
    for name in ("broker", "client"):
        pub[name] = subprocess.run([str(VIGIL_BIN), "key", "gen", str(tmp / f"{name}.key")],
                                   capture_output=True, text=True, check=True).stdout.strip()
    port = 20000 + PID % 20000
    conf = tmp / "broker.conf"
    conf.write_text(f"[broker]\nlisten = 127.0.0.1:{port}\nkey = {tmp / 'broker.key'}\n"
                    f"[vm g]\nmemory = {guest.mem_path}\nallow = {pub['client']}\n")
    log = open(tmp / "broker.log", "w")
    proc = subprocess.Popen([str(VIGIL_BIN), "broker", "run", "--config", str(conf)],
                            stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 20
    while "listening on" not in (tmp / "broker.log").read_text():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    try:
        yield f"remote://127.0.0.1:{port}/g?key={tmp / 'client.key'}&pub={pub['broker']}"
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        log.close()


def test_remote_view_equals_local(guest, loopback_broker):
    def key(r):
        return r[0], r[1], re.split(r"[-+]", r[2], 1)[0] if r[2].startswith("kworker") else r[2]

    local = sorted(map(key, vigil_ps(guest.mem_path)))
    remote = sorted(map(key, vigil_ps(loopback_broker)))
    assert remote == local
    rc, out, err = vexec(loopback_broker, "netstat", "-tln")
    assert rc == 0, err
    assert ":4242" in out


def test_mount_serves_a_directory(guest, tmp_path):
    mnt = tmp_path / "proc"
    mnt.mkdir()
    proc = subprocess.Popen([str(VIGIL_BIN), "vmi", "mount", "--vm", guest.mem_path, str(mnt)],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (mnt / "1").exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert (mnt / "1" / "comm").read_text() == "init\n"
        assert (mnt / "version").read_text().startswith("Linux version ")
        assert "sh" in os.listdir(mnt) or "1" in os.listdir(mnt)
        with pytest.raises(OSError):
            (mnt / "1" / "comm").write_text("x")
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], check=False)
        assert proc.wait(30) == 0
