"""vigil ids scan against the test rootkit (tests/fixtures/rootkit/vigil_rk.c) loaded into a
real guest: each behaviour, activated alone, is reported by the right check with the right
evidence, and the finding is gone once the behaviour is undone."""
import json
import time

import pytest

import attacks


def scan(run_vigil, g, *extra):
    rc, out, err = run_vigil("ids", "scan", "-j", "--vm", g.mem_path, *extra)
    assert rc in (0, 1), f"scan failed: rc={rc} {err}"
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def by_check(alerts, check):
    return [a for a in alerts if a["check"] == check]


@pytest.fixture(scope="module")
def rk_guest(guest):
    attacks.build_rootkit()
    attacks.push_rootkit(guest)
    return guest


def assert_clean_after(run_vigil, g):
    time.sleep(0.3)
    assert scan(run_vigil, g) == []


def test_clean_before(rk_guest, run_vigil):
    assert scan(run_vigil, rk_guest) == []


def test_hidden_process(rk_guest, run_vigil):
    g = rk_guest
    a = attacks.hide_process(g)
    try:
        alerts = scan(run_vigil, g)
        hidden = by_check(alerts, "hidden-process")
        assert [(x["evidence"]["pid"], x["severity"]) for x in hidden] == [(a.pid, "critical")]
        assert hidden[0]["evidence"]["comm"] == "sleep"
        assert hidden[0]["evidence"]["missing_from"] == ["task_list"]
        # vigil's ps no longer lists it either (it reads the same task list)
        rc, out, _ = run_vigil("vmi", "ps", "-j", "--vm", g.mem_path)
        assert a.pid not in [p["pid"] for p in json.loads(out)]
    finally:
        a.undo()
    assert_clean_after(run_vigil, g)


def test_hidden_module(rk_guest, run_vigil):
    g = rk_guest
    a = attacks.hide_module(g, mode=1)
    try:
        hidden = by_check(scan(run_vigil, g), "hidden-module")
        assert [(x["target"]["id"], x["severity"]) for x in hidden] == \
            [("vigil_rk", "critical")], hidden
        assert hidden[0]["evidence"]["missing_from"] == ["module_list"]
    finally:
        a.undo()
    assert_clean_after(run_vigil, g)


@pytest.mark.parametrize("kind", ["ftrace", "kprobe"])
def test_kernel_hook(rk_guest, run_vigil, kind):
    g = rk_guest
    a = attacks.kernel_hook(g, kind=kind, symbol="__x64_sys_kill")
    try:
        hooks = by_check(scan(run_vigil, g), "kernel-hook")
        assert len(hooks) == 1, hooks
        ev = hooks[0]["evidence"]
        assert ev["kind"] == kind and ev["module"] == "vigil_rk"
        assert ev["hooked"].split("+")[0] == "__x64_sys_kill", ev
    finally:
        a.undo()
    assert_clean_after(run_vigil, g)


def test_syscall_table_overwrite(rk_guest, run_vigil):
    g = rk_guest
    a = attacks.syscall_table_hook(g)
    try:
        sct = by_check(scan(run_vigil, g), "syscall-hook")
        assert [(x["evidence"]["table"], x["evidence"]["nr"]) for x in sct] == \
            [("sys_call_table", a.nr)], sct
        ev = sct[0]["evidence"]
        assert int(ev["target"], 16) == a.value and ev["owner"] == "vigil_rk"
        assert sct[0]["severity"] == "critical"
    finally:
        a.undo()
    assert_clean_after(run_vigil, g)


def test_privilege_escalation(rk_guest, run_vigil):
    g = rk_guest
    a = attacks.privilege_escalation(g)
    try:
        alerts = scan(run_vigil, g)
        esc = [x for x in by_check(alerts, "suspicious-process")
               if x["evidence"]["reason"] == "privilege-escalation"]
        assert a.pid in [x["evidence"]["pid"] for x in esc], alerts
        mine = [x for x in esc if x["evidence"]["pid"] == a.pid][0]
        assert mine["evidence"]["euid"] == 0 and mine["evidence"]["parent"]["euid"] == 1000
        # the rootkit's ftrace hook that granted root is visible too
        assert by_check(alerts, "kernel-hook")
    finally:
        a.undo()
    assert_clean_after(run_vigil, g)
