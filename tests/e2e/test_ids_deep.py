"""The IDS's deeper views against a real guest and the test rootkit: kernel text against a
baseline (inline patches; the guest's own tracers must not count), the syscall dispatcher's
branches (x64_sys_call), the scheduler's run queues (a hidden process that keeps running) and
the module-memory scan (a module gone from both the module list and sysfs). Each attack is
caught by the right check with the right evidence; a clean guest gives nothing, also after
tracing is switched on inside it."""
import json
import time

import pytest

import attacks
from conftest import run_vigil as run_vigil_once


def scan(run_vigil, g, *extra):
    rc, out, err = run_vigil("ids", "scan", "-j", "--vm", g.mem_path, *extra)
    assert rc in (0, 1), f"scan failed: rc={rc} {err}"
    alerts = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert (rc == 1) == bool(alerts), (rc, alerts)
    return alerts, err


def by_check(alerts, check):
    return [a for a in alerts if a["check"] == check]


@pytest.fixture(scope="module")
def deep_guest(guest):
    attacks.build_rootkit()
    attacks.push_rootkit(guest)
    return guest


@pytest.fixture(scope="module")
def baseline(deep_guest, tmp_path_factory):
    """A baseline of the clean guest, with keyed hashes of its kernel text."""
    path = tmp_path_factory.mktemp("deep") / "baseline.json"
    rc, out, err = run_vigil_once("ids", "baseline", "--vm", deep_guest.mem_path, "-o", path, "-j")
    assert rc == 0, err
    info = json.loads(out)
    assert info["kernel_text"], "ids baseline recorded no kernel text hashes"
    text = json.load(open(path))
    return path, text


def text_findings(alerts):
    return [a for a in by_check(alerts, "kernel-hook") if a["target"]["kind"] == "text"]


def assert_clean(run_vigil, g, *extra):
    time.sleep(0.3)
    alerts, err = scan(run_vigil, g, *extra)
    assert alerts == []
    return err


def test_clean_guest_views_read(deep_guest, run_vigil):
    """No findings, and none of the deeper views failed to read (they warn on stderr)."""
    err = assert_clean(run_vigil, deep_guest)
    for view in ("scheduler", "module area", "module scan", "dispatcher"):
        assert view not in err, err


def test_text_baseline_clean_and_guest_tracing(deep_guest, run_vigil, baseline):
    path, _ = baseline
    err = assert_clean(run_vigil, deep_guest, "--baseline", path)
    assert "text" not in err, err
    # tracepoint (jump label), kprobes (int3/optprobe, ftrace-based), function tracer
    # (ftrace site -> trampoline): the kernel's own patching is not an inline patch
    with attacks.guest_tracing(deep_guest):
        alerts, err = scan(run_vigil, deep_guest, "--baseline", path)
        assert text_findings(alerts) == [], alerts
        assert alerts == [], alerts
    assert_clean(run_vigil, deep_guest, "--baseline", path)


def test_inline_patch(deep_guest, run_vigil, baseline):
    path, _ = baseline
    a = attacks.inline_patch(deep_guest, "__x64_sys_sysfs")
    try:
        alerts, _ = scan(run_vigil, deep_guest, "--baseline", path)
        text = text_findings(alerts)
        assert len(text) == 1, alerts
        ev = text[0]["evidence"]
        assert ev["kind"] == "inline-patch" and ev["module"] == "vigil_rk", ev
        assert int(ev["branch"], 16) == a.address and int(ev["target"], 16) == a.target
        assert ev["where"].startswith("__x64_sys_sysfs+"), ev
        assert "__x64_sys_sysfs" in ev["functions"].split(",")
        assert int(ev["address"], 16) <= a.address < int(ev["address"], 16) + ev["length"]
        assert text[0]["severity"] == "critical"
        # without a baseline the patch is invisible to every other view
        plain, _ = scan(run_vigil, deep_guest)
        assert text_findings(plain) == []
    finally:
        a.undo()
    assert_clean(run_vigil, deep_guest, "--baseline", path)


def test_remembered_clean_state_hides_no_patch(deep_guest, baseline, tmp_path):
    """A one-shot scan remembers a clean text comparison (textok-*) and the dispatchers'
    decoded branches (dispatch-*) in the cache directory. Neither may hide a patch made
    afterwards: changed bytes must run the full comparison and a fresh disassembly."""
    import os
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    path, _ = baseline
    cache = tmp_path / "vigil" / "discovery"

    def scan_env(*extra):
        rc, out, err = run_vigil_once("ids", "scan", "-j", "--vm", deep_guest.mem_path, *extra,
                                      env=env)
        assert rc in (0, 1), err
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    assert scan_env("--baseline", path) == []
    assert len(list(cache.glob("textok-*"))) == 1 and list(cache.glob("dispatch-*"))
    assert scan_env("--baseline", path) == []  # from the records this time
    with attacks.inline_patch(deep_guest, "__x64_sys_sysfs") as a:
        text = text_findings(scan_env("--baseline", path))
        assert len(text) == 1 and int(text[0]["evidence"]["branch"], 16) == a.address, text
    with attacks.dispatcher_hook(deep_guest) as a:
        hooks = by_check(scan_env(), "syscall-hook")
        assert len(hooks) == 1 and int(hooks[0]["evidence"]["site"], 16) == a.site, hooks
    time.sleep(0.3)
    assert scan_env("--baseline", path) == []


def test_dispatcher_redirect(deep_guest, run_vigil):
    a = attacks.dispatcher_hook(deep_guest)
    try:
        alerts, _ = scan(run_vigil, deep_guest)
        hooks = by_check(alerts, "syscall-hook")
        assert len(hooks) == 1, alerts
        ev = hooks[0]["evidence"]
        assert ev["dispatcher"] == "x64_sys_call" and int(ev["site"], 16) == a.site
        assert int(ev["target"], 16) == a.target and ev["owner"] == "vigil_rk"
        assert ev["insn"] == a.insn and hooks[0]["severity"] == "critical"
        # the tables are untouched: only the dispatcher view sees it
        assert {x["check"] for x in alerts} == {"syscall-hook"}, alerts
    finally:
        a.undo()
    assert_clean(run_vigil, deep_guest)


def test_dispatcher_redirect_in_text(deep_guest, run_vigil, baseline):
    """With a baseline the same rewrite is also an inline patch of x64_sys_call."""
    path, _ = baseline
    with attacks.dispatcher_hook(deep_guest) as a:
        text = text_findings(scan(run_vigil, deep_guest, "--baseline", path)[0])
        assert [t["evidence"]["where"].split("+")[0] for t in text] == ["x64_sys_call"], text
        assert int(text[0]["evidence"]["target"], 16) == a.target


def test_hidden_running_process(deep_guest, run_vigil):
    a = attacks.hide_running_process(deep_guest)
    try:
        hidden = by_check(scan(run_vigil, deep_guest)[0], "hidden-process")
        assert [(x["evidence"]["pid"], x["severity"]) for x in hidden] == [(a.pid, "critical")]
        ev = hidden[0]["evidence"]
        assert "scheduler" in ev["seen_in"] and ev["missing_from"] == ["task_list"], ev
        assert int(ev["task"], 16) == a.task
    finally:
        a.undo()
    assert_clean(run_vigil, deep_guest)


def test_hidden_module_found_in_memory(deep_guest, run_vigil):
    """Mode 1 (off the list, sysfs kept): the memory scan confirms the sysfs finding."""
    with attacks.hide_module(deep_guest, mode=1) as a:
        hidden = by_check(scan(run_vigil, deep_guest)[0], "hidden-module")
        assert [x["target"]["id"] for x in hidden] == ["vigil_rk"], hidden
        ev = hidden[0]["evidence"]
        assert ev["seen_in"] == ["sysfs", "memory"], ev
        assert int(ev["struct_module"], 16) == a.struct_module
    assert_clean(run_vigil, deep_guest)


def test_module_hidden_from_list_and_sysfs(guest_factory, run_vigil):
    """Mode 2 also deletes the sysfs kobject: only the memory scan sees the module. The module
    can never be unloaded, so this runs on a guest of its own."""
    g = guest_factory("deep_rk2")
    attacks.push_rootkit(g)
    assert scan(run_vigil, g)[0] == []
    a = attacks.hide_module(g, mode=2)
    assert g.run_rc("[ -e /sys/module/vigil_rk ]")[0] != 0
    hidden = by_check(scan(run_vigil, g)[0], "hidden-module")
    assert [(x["target"]["id"], x["severity"]) for x in hidden] == [("vigil_rk", "critical")]
    ev = hidden[0]["evidence"]
    assert ev["seen_in"] == ["memory"] and ev["missing_from"] == ["module_list", "sysfs"], ev
    assert int(ev["struct_module"], 16) == a.struct_module and ev["state"] == "Live"
