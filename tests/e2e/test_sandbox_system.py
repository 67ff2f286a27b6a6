"""End-to-end tests of the `system` sandbox environment: a full ARM board under
qemu-system-arm (TCG) with Debian's armhf kernel, busybox httpd/telnetd, a watchdog process and
the in-guest agent (src/sandbox/sys_agent) as PID 1; restored from a saved ready state for
every sample (src/sandbox/env_system.c, docs/sandbox-system.md).

Each sample goes through the real `vigil sandbox one --env system`, and the test reads the
artifacts the environment wrote (src/sandbox/env.h). Network safety: every vigil process runs
under `unshare -n` (a namespace of the test's own with only a down loopback); the guest's NIC
is a tap inside the sinkhole's namespace, which has no uplink either. The image is prepared
(`vigil sandbox prepare --env system`, or taken from the cache) before, outside the namespace,
because its build downloads Debian packages; runs never download.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from guest import REPO

VIGIL = Path(os.environ.get("VIGIL_BIN", REPO / "build" / "vigil"))
CORPUS_BUILD = REPO / "tests" / "fixtures" / "samples" / "build.sh"
CC = "arm-linux-gnueabi-gcc"

# Small programs for what the shared corpus does not cover.
EXTRA = {
    "exit3": "int main(void) { return 3; }\n",
    # kills every process it can see, PID 1 included, then everything at once
    "killall": r"""
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d))) {
		int p = atoi(e->d_name);
		if (p > 0 && p != getpid()) {
			kill(p, SIGTERM);
			n += kill(p, SIGKILL) == 0;
		}
	}
	kill(1, SIGKILL);
	kill(-1, SIGKILL);
	printf("killall: signalled %d\n", n);
	return 0;
}
""",
    # writes a persistence script and a file in root's home
    "writer": r"""
#include <stdio.h>
int main(void)
{
	FILE *f = fopen("/etc/init.d/S95vigiltest", "w");
	if (!f)
		return 1;
	fputs("#!/bin/sh\n/tmp/run/writer &\n", f);
	fclose(f);
	f = fopen("/root/notes.txt", "w");
	if (!f)
		return 1;
	fputs("hello\n", f);
	fclose(f);
	return 0;
}
""",
}


@pytest.fixture(scope="module")
def image():
    """The system image, prepared or taken from the cache (needs Debian's archive on first
    use)."""
    for tool in (CC, "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} missing: install scripts/packages.txt")
    r = subprocess.run([str(VIGIL), "sandbox", "prepare", "--env", "system", "-j"],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    return Path(json.loads(r.stdout)["envs"][0]["image"])


@pytest.fixture(scope="module")
def corpus():
    r = subprocess.run([str(CORPUS_BUILD)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


@pytest.fixture(scope="module")
def extra(tmp_path_factory):
    d = tmp_path_factory.mktemp("sys-samples")
    for name, src in EXTRA.items():
        (d / f"{name}.c").write_text(src)
        subprocess.run([CC, "-static", "-O2", "-o", str(d / name), str(d / f"{name}.c")],
                       check=True, timeout=120)
    return d


class Run:
    def __init__(self, rundir, out):
        self.dir = Path(rundir)
        self.result = json.loads(out)

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
            if line.startswith("#"):
                continue
            change, path, size, ent = line.split("\t")
            rows.append((change, path, int(size), float(ent)))
        return rows

    def syscalls(self):
        return self.text("syscalls.log").splitlines()

    def net(self):
        return [json.loads(l) for l in self.text("net.jsonl").splitlines() if l.strip()]


def run_one(sample, tmp_path, timeout=4, force=False):
    """One sample through `vigil sandbox one --env system`, in a namespace with no uplink."""
    if not VIGIL.exists():
        pytest.fail(f"vigil binary not found at {VIGIL}")
    rundir = tmp_path / f"system-{Path(sample).name}"
    cmd = ["unshare", "-n", str(VIGIL), "sandbox", "one", "--env", "system", str(sample),
           "-o", str(rundir), "--timeout", str(timeout), "-j"] + (["--force"] if force else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 900)
    assert r.returncode == 0, f"{cmd}: rc {r.returncode}: {r.stderr}"
    return Run(rundir, r.stdout)


def test_restore_and_exit_codes(image, extra, corpus, tmp_path):
    """exit 0 and exit 3 from a restored guest; the clean services answer before and after."""
    r3 = run_one(extra / "exit3", tmp_path)
    st = r3.status()
    assert st["started"] is True and st["exec_error"] is None
    assert st["exit_code"] == 3 and st["signal"] is None and st["timed_out"] is False
    assert r3.services() == {"http": {"before": True, "after": True},
                             "telnet": {"before": True, "after": True}}
    assert r3.syscalls()[0].split()[1].startswith('execve("/tmp/run/exit3"')
    assert r3.result["result"]["research_verdict"] == "not executable"
    timing = json.loads(r3.text("env_timing.json"))
    assert timing["env"] == "system" and timing["total_ms"] > 0

    # a dynamic hard-float program: the armhf loader in the image loads it
    r0 = run_one(corpus / "dynhello", tmp_path)
    assert r0.status()["exit_code"] == 0
    assert "ld-linux-armhf" in r0.text("stdout")
    assert r0.result["result"]["research_verdict"] == "executable"


def test_crash_and_timeout(image, corpus, tmp_path):
    seg = run_one(corpus / "segv", tmp_path).status()
    assert seg["signal"] == 11 and seg["exit_code"] is None and seg["timed_out"] is False

    loop = run_one(corpus / "loop", tmp_path, timeout=3).status()
    assert loop["timed_out"] is True and loop["exit_code"] is None and loop["signal"] is None
    assert loop["children_killed"] == 1
    assert 3000 <= loop["duration_ms"] < 3000 + 5000


def test_fork_and_exit_is_followed(image, corpus, tmp_path):
    """The parent exits 0 at once; the detached child is traced, keeps the run going to the
    deadline and is killed there; its output is capped, not the run's length."""
    r = run_one(corpus / "daemon", tmp_path, timeout=3)
    st = r.status()
    assert st["exit_code"] == 0 and st["timed_out"] is True and st["children_killed"] >= 1
    pids = {l.split()[0] for l in r.syscalls() if l[:1].isdigit()}
    assert len(pids) >= 2, "the child's system calls are in the log"
    assert any(" clone(" in l or " fork(" in l for l in r.syscalls())
    assert "still here" in r.text("stdout")
    assert ("created", "/tmp/run/daemon.pid") in [(c, p) for c, p, _, _ in r.files()]


def test_killer_takes_telnet_down(image, corpus, tmp_path):
    r = run_one(corpus / "killer", tmp_path)
    assert r.services()["telnet"] == {"before": True, "after": False}
    assert r.services()["http"] == {"before": True, "after": True}
    assert any(" kill(" in l and "SIGKILL" in l for l in r.syscalls())


def test_file_changes(image, extra, corpus, tmp_path):
    r = run_one(extra / "writer", tmp_path)
    assert r.status()["exit_code"] == 0
    files = {p: (c, size) for c, p, size, _ in r.files()}
    assert files["/etc/init.d/S95vigiltest"] == ("created", 28)
    assert files["/root/notes.txt"] == ("created", 6)
    assert any('openat(' in l and '"/etc/init.d/S95vigiltest"' in l for l in r.syscalls())

    # self-deletion and renaming
    s = run_one(corpus / "selfdel", tmp_path)
    assert ("deleted", "/tmp/run/selfdel") in [(c, p) for c, p, _, _ in s.files()]
    assert any('prctl(PR_SET_NAME, "kworker/0:1")' in l for l in s.syscalls())
    assert any('unlink("/tmp/run/selfdel") = 0' in l for l in s.syscalls())
    # argv[0] rewritten in place makes no system call; the agent sees it at exit
    assert any('argv_rename("[kworker/0:1]", "/tmp/run/selfdel") = 0' in l
               for l in s.syscalls()), s.syscalls()[-5:]

    # the encryptor's note; files it rewrites get their entropy measured
    e = run_one(corpus / "encryptor", tmp_path)
    assert "/tmp/run/README_DECRYPT.txt" in {p for c, p, _, _ in e.files() if c == "created"}


def test_connects_land_in_the_sink(image, corpus, tmp_path):
    """The scanner's connections leave the guest's NIC into the sinkhole namespace only."""
    r = run_one(corpus / "scanner", tmp_path)
    tcp = [e for e in r.net() if e.get("proto") == "tcp"]
    assert tcp, r.text("net.jsonl")
    assert {e["dport"] for e in tcp} & {23, 2323}
    assert all(e["dst"].startswith("10.66.") for e in tcp)
    assert any(" connect(" in l and "sa_family=AF_INET" in l for l in r.syscalls())


def test_agent_survives_killing_everything(image, extra, tmp_path):
    """A root sample signals every process and PID 1: the agent (PID 1) survives and reports;
    the services it killed are down afterwards."""
    r = run_one(extra / "killall", tmp_path)
    st = r.status()
    assert st["started"] is True and st["exit_code"] == 0
    assert "killall: signalled" in r.text("stdout")
    assert any(l.split()[1:3] == ["kill(1,", "SIGKILL)"] for l in r.syscalls())
    assert r.services() == {"http": {"before": True, "after": False},
                            "telnet": {"before": True, "after": False}}


def test_hostile_sample_is_contained(image, corpus, tmp_path):
    """The fork bomb meets the sample cgroup's pids limit, the memory hog and the disk filler
    its memory limit; the guest survives, and 8.8.8.8 lands in the sink."""
    r = run_one(corpus / "hostile", tmp_path, timeout=8)
    out = r.text("stdout")
    assert "hostile: done" in out
    assert "fork bomb: child killed" in out or "forks before failing" in out
    assert "memory hog: child killed by signal 9" in out
    assert r.status()["started"] is True
    assert any(e.get("dst") == "8.8.8.8" for e in r.net()), r.text("net.jsonl")


def test_not_runnable(image, corpus, tmp_path):
    """A missing loader is known from the image (has_interp) before running; a MIPS ELF
    forced into the guest fails its exec with ENOEXEC, as on a real ARM board."""
    miss = run_one(corpus / "dynmissing", tmp_path)
    assert miss.result["result"]["verdict"] == "load-failed"
    assert "/lib/ld-missing.so.3" in miss.result["result"]["reason"]

    mips = run_one(corpus / "mips", tmp_path, force=True).status()
    assert mips["started"] is False and mips["exec_error"] == "ENOEXEC"
    assert mips["exit_code"] is None and mips["signal"] is None
