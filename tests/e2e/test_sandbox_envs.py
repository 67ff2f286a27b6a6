"""End-to-end tests of the container and minimal sandbox environments and the sinkhole.

Every sample of the test corpus (tests/fixtures/samples, cross-compiled ARM programs that each
imitate one behaviour) runs through the real `vigil sandbox one`, and the test reads the run's
artifacts (src/sandbox/env.h) directly. Network safety: every vigil process runs under
`unshare -n`, a network namespace of the test's own with nothing but a down loopback, so even a
containment bug could not send a packet off this machine; the samples address only the
sinkhole's 10.66.0.0/16, except hostile.c, whose 8.8.8.8 and 1.1.1.1 must land in the sink.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from guest import REPO

VIGIL = Path(os.environ.get("VIGIL_BIN", REPO / "build" / "vigil"))
ENVS = ["container", "minimal"]


@pytest.fixture(scope="module")
def corpus():
    if not shutil.which("arm-linux-gnueabi-gcc"):
        pytest.fail("arm-linux-gnueabi-gcc missing: install scripts/packages.txt")
    if not Path("/usr/bin/qemu-arm-static").exists():
        pytest.fail("qemu-arm-static missing: install scripts/packages.txt")
    r = subprocess.run([str(REPO / "tests/fixtures/samples/build.sh")], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


class Run:
    def __init__(self, rundir, rc, out, err):
        self.dir, self.rc, self.out, self.err = Path(rundir), rc, out, err
        self.result = json.loads(out) if rc == 0 and out.strip() else None

    def text(self, name):
        p = self.dir / name
        return p.read_text(errors="replace") if p.exists() else ""

    def status(self):
        return json.loads(self.text("status.json"))

    def services(self):
        return json.loads(self.text("services.json"))

    def files(self):
        rows = []
        for line in self.text("files.tsv").splitlines():
            change, path, size, ent = line.split("\t")
            rows.append((change, path, int(size), float(ent)))
        return rows

    def net(self):
        return [json.loads(l) for l in self.text("net.jsonl").splitlines() if l.strip()]


def run_one(env, sample, tmp_path, timeout=4, force=False, tag=""):
    """One sample through `vigil sandbox one`, inside a network namespace with no uplink."""
    if not VIGIL.exists():
        pytest.fail(f"vigil binary not found at {VIGIL}")
    rundir = tmp_path / f"{env}-{Path(sample).name}{tag}"
    cmd = ["unshare", "-n", str(VIGIL), "sandbox", "one", "--env", env, str(sample), "-o",
           str(rundir), "--timeout", str(timeout), "-j"] + (["--force"] if force else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 120)
    assert r.returncode == 0, f"{cmd}: rc {r.returncode}: {r.stderr}"
    return Run(rundir, r.returncode, r.stdout, r.stderr)


@pytest.mark.parametrize("env", ENVS)
def test_not_runnable_samples_are_identified(env, corpus, tmp_path):
    """Non-ELF, MIPS and missing-loader samples are not run, with the reason; forced into the
    environment, the exec fails as an ARM kernel's execve would (ENOEXEC, ENOENT)."""
    cases = {"notelf.sh": ("not-executable", "not an ELF", "ENOEXEC"),
             "mips": ("not-executable", "wrong architecture", "ENOEXEC"),
             "dynmissing": ("load-failed", "missing loader", "ENOENT")}
    for name, (verdict, why, errno) in cases.items():
        r = run_one(env, corpus / name, tmp_path)
        res = r.result["result"]
        assert res["verdict"] == verdict and why in res["reason"], (name, res)
        assert res["research_verdict"] == "not executable"
        f = run_one(env, corpus / name, tmp_path, force=True, tag="-forced")
        st = f.status()
        assert st["started"] is False and st["exec_error"] == errno, (name, st)


def test_dynamic_sample_needs_the_loader(corpus, tmp_path):
    """glibc and its loader are in the container's userland, not in the minimal root."""
    r = run_one("container", corpus / "dynhello", tmp_path)
    assert r.status()["exit_code"] == 0
    assert "loaded by ld-linux-armhf" in r.text("stdout")
    assert "libc.so.6" in r.text("syscalls.log")  # opened by the loader
    m = run_one("minimal", corpus / "dynhello", tmp_path).result["result"]
    assert m["verdict"] == "load-failed" and "ld-linux-armhf.so.3" in m["reason"], m


@pytest.mark.parametrize("env", ENVS)
def test_crash_and_timeout(env, corpus, tmp_path):
    seg = run_one(env, corpus / "segv", tmp_path).status()
    assert seg["started"] and seg["signal"] == 11 and seg["exit_code"] is None
    assert not seg["timed_out"]
    loop = run_one(env, corpus / "loop", tmp_path, timeout=2)
    st = loop.status()
    assert st["timed_out"] and st["exit_code"] is None and st["children_killed"] >= 1
    assert loop.result["result"]["research_verdict"] == "executable"


@pytest.mark.parametrize("env", ENVS)
def test_scanner_seen_by_sinkhole(env, corpus, tmp_path):
    r = run_one(env, corpus / "scanner", tmp_path)
    assert r.status()["exit_code"] == 0
    tcp = [e for e in r.net() if e["proto"] == "tcp"]
    assert {e["dport"] for e in tcp} == {23, 2323}
    dsts = {e["dst"] for e in tcp}
    assert len(dsts) >= 30 and all(d.startswith("10.66.") for d in dsts)
    assert any(e["proto"] == "icmp" and e["dst"] == "10.66.5.5" for e in r.net())
    assert "ping 10.66.5.5 answered" in r.text("stdout")


@pytest.mark.parametrize("env", ENVS)
def test_dns_lookup_and_cnc_session(env, corpus, tmp_path):
    r = run_one(env, corpus / "dnscnc", tmp_path)
    assert r.status()["exit_code"] == 0, r.text("stdout")
    net = r.net()
    assert any(e["proto"] == "dns" and e["qname"] == "cnc.vigil-test.example" for e in net)
    cnc = [e for e in net if e["proto"] == "tcp" and e["dport"] == 48101]
    assert cnc and cnc[0]["dst"] == "10.66.0.1"
    assert bytes.fromhex(cnc[0]["first_hex"]).startswith(b"HELLO bot-7")


@pytest.mark.parametrize("env", ENVS)
def test_telnet_brute_force(env, corpus, tmp_path):
    r = run_one(env, corpus / "brute", tmp_path)
    sessions = [e for e in r.net() if e["proto"] == "tcp" and e["dport"] == 23]
    assert len(sessions) == 6
    sent = [bytes.fromhex(e["first_hex"]) for e in sessions]
    assert b"root\r\nxc3511\r\n" in sent and b"admin\r\nadmin\r\n" in sent


@pytest.mark.parametrize("env", ENVS)
def test_bind_shell_listens(env, corpus, tmp_path):
    r = run_one(env, corpus / "bindshell", tmp_path, timeout=2)
    st = r.status()
    assert st["timed_out"] and st["children_killed"] >= 1
    log = r.text("syscalls.log")
    assert "sin_port=htons(2001)" in log and "listen(" in log
    assert "listening on 2001" in r.text("stdout")
    assert any(b["id"] == "listen" for b in r.result["result"]["behaviours"])


def test_killer_stops_telnetd_in_container(corpus, tmp_path):
    r = run_one("container", corpus / "killer", tmp_path)
    svc = r.services()
    assert svc["telnet"] == {"before": True, "after": False}
    assert svc["http"] == {"before": True, "after": True}
    out = r.text("stdout")
    # telnetd, the watchdog, and any telnetd session child the supervisor's probe left
    assert "telnetd" in out and "watchdog" in out
    assert int(re.search(r"killed (\d+)", out).group(1)) >= 2


def test_killer_finds_nothing_in_minimal(corpus, tmp_path):
    """The minimal environment has no /proc and no telnetd: the killer has nothing to kill."""
    r = run_one("minimal", corpus / "killer", tmp_path)
    assert r.status()["exit_code"] == 1
    assert r.services()["http"] == {"before": True, "after": True}
    assert r.services()["telnet"]["before"] is False


@pytest.mark.parametrize("env", ENVS)
def test_self_deletion_and_rename(env, corpus, tmp_path):
    r = run_one(env, corpus / "selfdel", tmp_path)
    assert r.status()["exit_code"] == 0
    assert ("deleted", "/tmp/run/selfdel", 0, 0.0) in r.files()
    log = r.text("syscalls.log")
    assert "prctl(15," in log and 'unlink("./selfdel") = 0' in log


@pytest.mark.parametrize("env", ENVS)
def test_daemon_is_followed(env, corpus, tmp_path):
    """The parent exits at once; its child keeps running and printing: the run lasts to the
    deadline, the child is killed there, and its output is cut at 64 KiB."""
    r = run_one(env, corpus / "daemon", tmp_path, timeout=3)
    st = r.status()
    assert st["exit_code"] == 0 and st["timed_out"] and st["children_killed"] >= 1
    assert any(f[0] == "created" and f[1] == "/tmp/run/daemon.pid" for f in r.files())
    assert "still here" in r.text("stdout")
    assert (r.dir / "stdout").stat().st_size <= 64 * 1024


@pytest.mark.parametrize("env", ENVS)
def test_encryptor_rewrites_with_high_entropy(env, corpus, tmp_path):
    r = run_one(env, corpus / "encryptor", tmp_path)
    mod = {f[1]: f for f in r.files() if f[0] == "modified"}
    for name in ("notes.txt", "readings.csv", "settings.conf"):
        assert mod[f"/tmp/run/{name}"][3] > 7.5, mod
    assert any(f[1] == "/tmp/run/README_DECRYPT.txt" for f in r.files())


def _host_state():
    return {p: (hashlib.sha256(Path(p).read_bytes()).hexdigest() if Path(p).exists() else None)
            for p in ("/etc/passwd", "/etc/hostname", "/vigil-escape", "/etc/vigil-escape",
                      "/tmp/vigil-escape")}


@pytest.mark.parametrize("env", ENVS)
def test_hostile_sample_is_contained(env, corpus, tmp_path):
    before = _host_state()
    r = run_one(env, corpus / "hostile", tmp_path, timeout=20)
    assert _host_state() == before
    st, out = r.status(), r.text("stdout")
    assert "hostile: done" in out, out
    # process count: the fork bomb hit pids.max
    assert st["limits"]["pids_max_hits"] > 0
    assert "fork bomb:" in out and "Resource temporarily unavailable" in out
    # memory: the hog was killed by the cgroup's OOM killer
    assert st["limits"]["oom_kills"] >= 1
    assert "memory hog: child killed by signal 9" in out
    # disk: the filler stopped at the tmpfs limit, inside the run directory
    assert "No space left on device" in out
    fill = [f for f in r.files() if f[1] == "/tmp/run/fill"]
    assert fill and fill[0][2] <= 64 << 20
    # namespaces, mounts, chroot, the supervisor: all refused
    for what in ("unshare(CLONE_NEWNS)", "unshare(CLONE_NEWNET)", "mount tmpfs", "chroot",
                 "kill pid 1", "sethostname"):
        assert f"hostile: {what}: Operation not permitted" in out, what
    assert "write /proc/1/root/etc/vigil-escape: succeeded" not in out
    # writes outside the run directory land in the overlay (container) or fail (minimal)
    if env == "container":
        changed = {f[1] for f in r.files()}
        assert {"/etc/passwd", "/vigil-escape", "/etc/vigil-escape"} <= changed
    else:
        assert "write /etc/passwd: Read-only file system" in out
        assert all(f[1].startswith("/tmp/run/") for f in r.files())
    # the real addresses it reached for were the sinkhole
    reached = {(e["dst"], e["dport"]) for e in r.net() if e["proto"] == "tcp"}
    assert {("8.8.8.8", 53), ("1.1.1.1", 80)} <= reached
    # the services outlived the attempts (the fork bomb's kill(0) stayed in its group)
    assert r.services()["http"]["after"] is True


def test_nothing_left_behind(corpus, tmp_path):
    """After runs, no cgroup of vigil's and no scratch directory remain on the host."""
    run_one("container", corpus / "selfdel", tmp_path)
    found = subprocess.run(["find", "/sys/fs/cgroup", "-maxdepth", "5", "-name", "vigil-sbx-*"],
                           capture_output=True, text=True).stdout.split()
    # groups of other vigil processes running now (parallel tests) are theirs, not leftovers
    left = [p for p in found if not Path(f"/proc/{Path(p).name.split('-')[2]}").exists()]
    assert left == []
    scratch = Path(os.environ.get("TMPDIR", "/tmp")).glob("vigil-sbx-one-*")
    assert [p for p in scratch if not Path(f"/proc/{p.name.split('-')[-1]}").exists()] == []
