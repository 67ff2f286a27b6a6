"""vigil ids on an AArch64 guest (Debian's arm64 kernel on QEMU's virt machine, KASLR on): a
clean guest has no findings; each arm64 fixture, activated alone, is reported by the right
check with the right evidence and is gone after undo. The fixtures: a hooked syscall-table
entry that really redirects kill(2) (arm64 dispatches through the table) and the root it
gives, a module hidden from the list and from the list and sysfs, a process unlinked from
the task list, a kprobe by the module, a bind shell, a deleted executable in /tmp, a
promiscuous interface; a branch of the syscall path retargeted in a raw copy of RAM; baseline
plus scan, watch and serve. One guest for the file (module-scoped); hide_self=2 comes last
because it cannot be undone.
"""

import json
import os
import socket
import subprocess
import time

import pytest

import conftest
from attacks import bind_shell, deleted_tmp_binary, promisc
from attacks_arm64 import MODULE, NR_KILL, hide_module, hide_process, kprobe_hook, \
    patch_branch, privilege_escalation, syscall_table_hook
from conftest import BOOT_TIMEOUT, VIGIL_BIN, _boot_times, _describe
from guest import VIRT_RAM_BASE, Arm64Guest, build_guest_arm64
from test_ids import only


@pytest.fixture(scope="module")
def g(tmp_path_factory):
    guest = Arm64Guest(f"idsa64{os.getpid()}", image_dir=build_guest_arm64())
    # this file's own discovery cache
    guest.env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path_factory.mktemp("ids-a64-cache")))
    try:
        guest.start()
        _boot_times.append((_describe(guest) + " virt", guest.wait_boot(BOOT_TIMEOUT)))
        yield guest
    finally:
        guest.stop()


@pytest.fixture(name="run_vigil")
def run_vigil_here(g):
    def run(*args, **kw):
        kw.setdefault("env", g.env)
        return conftest.run_vigil(*args, **kw)
    return run


def scan(run_vigil, g, *extra, vm=None):
    rc, out, err = run_vigil("ids", "scan", "-j", "--vm", vm or g.mem_path, *extra, timeout=300)
    assert rc in (0, 1), f"scan failed: rc={rc} {err}"
    alerts = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert (rc == 1) == bool(alerts), (rc, alerts)
    return alerts


def test_clean_guest_has_no_findings(g, run_vigil):
    assert scan(run_vigil, g) == []


def test_syscall_table_hook_and_root(g, run_vigil):
    with syscall_table_hook(g, root_signal=True) as a:
        alerts = only(scan(run_vigil, g), "syscall-hook")
        assert len(alerts) == 1, alerts
        ev = alerts[0]["evidence"]
        assert (ev["table"], ev["nr"], int(ev["target"], 16), ev["owner"]) == \
            ("sys_call_table", NR_KILL, a.value, MODULE), ev
        assert alerts[0]["severity"] == "critical"
        with privilege_escalation(g) as esc:
            alerts = only(scan(run_vigil, g), "suspicious-process", "privilege-escalation")
            assert sorted(x["evidence"]["pid"] for x in alerts) == sorted([esc.pid]), alerts
            assert alerts[0]["evidence"]["parent"]["pid"] == esc.parent_pid
    assert scan(run_vigil, g) == []


def test_hidden_module(g, run_vigil):
    with hide_module(g, mode=1):
        alerts = only(scan(run_vigil, g), "hidden-module")
        assert [x["target"]["id"] for x in alerts] == [MODULE], alerts
        ev = alerts[0]["evidence"]
        assert ev["missing_from"] == ["module_list"] and "sysfs" in ev["seen_in"], ev
        assert "memory" in ev["seen_in"], ev  # the module-area scan found its struct module
    assert scan(run_vigil, g) == []


def test_hidden_process(g, run_vigil):
    with hide_process(g) as a:
        alerts = only(scan(run_vigil, g), "hidden-process")
        assert [x["evidence"]["pid"] for x in alerts] == [a.pid], alerts
        assert alerts[0]["evidence"]["comm"] == "sleep"
        assert alerts[0]["evidence"]["missing_from"] == ["task_list"]
    assert scan(run_vigil, g) == []


def test_kprobe_hook(g, run_vigil):
    with kprobe_hook(g):
        alerts = only(scan(run_vigil, g), "kernel-hook")
        assert len(alerts) == 1, alerts
        ev = alerts[0]["evidence"]
        assert (ev["kind"], ev["module"]) == ("kprobe", MODULE), ev
        assert ev["hooked"].startswith("__arm64_sys_kill"), ev
    assert scan(run_vigil, g) == []


def test_userland_fixtures(g, run_vigil):
    with bind_shell(g) as shell, deleted_tmp_binary(g) as dropper, promisc(g):
        alerts = scan(run_vigil, g)
        bd = only(alerts, "backdoor-port")
        assert [(x["evidence"]["port"], x["evidence"]["owner"]["pid"]) for x in bd] == \
            [(shell.port, shell.pid)], bd
        assert bd[0]["evidence"]["reason"] == "shell-listener"
        deleted = only(alerts, "suspicious-process", "deleted-executable")
        assert [(x["evidence"]["pid"], x["evidence"]["exe"]) for x in deleted] == \
            [(dropper.pid, dropper.exe)], deleted
        assert [x["target"]["id"] for x in only(alerts, "promisc-interface")] == ["vg-dummy0"]
    time.sleep(0.3)
    assert scan(run_vigil, g) == []


def test_syscall_path_branch(g, run_vigil, tmp_path):
    """A rootkit that leaves the table alone and patches the path instead: one B/BL of
    do_el0_svc sent into the middle of another function (a raw copy, patched offline)."""
    def vj(*args, vm):
        rc, out, err = run_vigil("vmi", *args, "-j", "--vm", vm, timeout=120)
        assert rc == 0, err
        return json.loads(out)

    raw = tmp_path / "ram.raw"
    g.dump_raw(raw)
    code = vj("read", "do_el0_svc", "64", vm=raw)
    fn = int(code["address"], 16)
    words = [int.from_bytes(bytes.fromhex(code["hex"])[i:i + 4], "little")
             for i in range(0, 64, 4)]
    site = next(i for i, w in enumerate(words) if w >> 26 in (0b000101, 0b100101))
    target = int(vj("translate", "__arm64_sys_kill", vm=raw)["virtual"], 16) + 8
    phys = int(vj("translate", hex(fn + 4 * site), vm=raw)["physical"], 16)
    assert scan(run_vigil, g, "--check", "syscall-hook", vm=raw) == []
    patch_branch(raw, phys - VIRT_RAM_BASE, target, fn + 4 * site)
    alerts = scan(run_vigil, g, "--check", "syscall-hook", "--no-cache", vm=raw)
    assert len(alerts) == 1, alerts
    ev = alerts[0]["evidence"]
    assert (ev["dispatcher"], int(ev["site"], 16), int(ev["target"], 16)) == \
        ("do_el0_svc", fn + 4 * site, target), ev
    assert ev["symbol"] == "__arm64_sys_kill+0x8", ev


def test_baseline_then_scan(g, run_vigil, tmp_path):
    base = tmp_path / "base.json"
    rc, out, err = run_vigil("ids", "baseline", "--vm", g.mem_path, "-o", base)
    assert rc == 0, err
    assert "text not recorded" in err  # AArch64's patch sites are not modelled (docs)
    b = json.loads(base.read_text())
    assert sorted(b["syscall_tables"]) == ["compat_sys_call_table", "sys_call_table"]
    assert len(b["syscall_tables"]["sys_call_table"]) > 400
    assert scan(run_vigil, g, "--baseline", base) == []
    with bind_shell(g, port=2345) as shell:
        alerts = scan(run_vigil, g, "--baseline", base)
        ports = [x["evidence"]["port"] for x in only(alerts, "backdoor-port")]
        assert shell.port in ports, alerts


def test_watch_and_serve(g, run_vigil, tmp_path):
    sock = str(tmp_path / "ids.sock")
    out = tmp_path / "alerts.log"
    srv = subprocess.Popen([str(VIGIL_BIN), "ids", "serve", "--vm", g.mem_path, "--socket",
                            sock, "--interval", "1s", "--output", f"file:{out}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=g.env)
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(sock):
            assert srv.poll() is None, srv.stderr.read()
            assert time.monotonic() < deadline, "serve did not create its socket"
            time.sleep(0.2)
        with promisc(g):
            deadline = time.monotonic() + 120
            while "promisc-interface" not in (out.read_text() if out.exists() else ""):
                assert time.monotonic() < deadline, "watch raised no alert"
                time.sleep(0.5)
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock)
            c.sendall(b"scan promisc-interface\n")
            f = c.makefile()
            first = json.loads(f.readline())
            assert first["check"] == "promisc-interface" and first["event"] == "finding"
            assert json.loads(f.readline()) == {"done": "scan", "findings": 1}
            c.close()
    finally:
        srv.terminate()
        srv.wait(30)
    assert srv.returncode == 0


def test_module_hidden_from_list_and_sysfs(g, run_vigil):
    """Last: hide_self=2 cannot be undone."""
    hide_module(g, mode=2)
    alerts = only(scan(run_vigil, g), "hidden-module")
    assert [x["target"]["id"] for x in alerts] == [MODULE], alerts
    ev = alerts[0]["evidence"]
    assert ev["seen_in"] == ["memory"], ev
    assert sorted(ev["missing_from"]) == ["module_list", "sysfs"], ev
