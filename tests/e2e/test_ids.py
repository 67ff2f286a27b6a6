"""vigil ids scan against a real guest: a clean guest has no findings; each in-guest fixture,
activated alone, is reported by the right check with the right evidence; after it is undone,
the finding is gone. Fixtures that need the test rootkit module live in test_ids_rootkit.py."""
import json
import time

import pytest


def scan(run_vigil, g, *extra):
    rc, out, err = run_vigil("ids", "scan", "-j", "--vm", g.mem_path, *extra)
    assert rc in (0, 1), f"scan failed: rc={rc} {err}"
    alerts = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert (rc == 1) == bool(alerts), (rc, alerts)
    return alerts


def only(alerts, check, reason=None):
    return [a for a in alerts if a["check"] == check and
            (reason is None or a["evidence"].get("reason") == reason)]


@pytest.fixture(scope="module")
def ids_guest(guest):
    return guest


def test_clean_guest_has_no_findings(ids_guest, run_vigil):
    assert scan(run_vigil, ids_guest) == []
    rc, out, _ = run_vigil("ids", "scan", "--vm", ids_guest.mem_path)
    assert rc == 0 and "(no findings)" in out


def test_alert_schema(ids_guest, run_vigil):
    g = ids_guest
    g.run("ip link set vg-dummy0 promisc on")
    try:
        alerts = scan(run_vigil, g, "--check", "promisc-interface")
    finally:
        g.run("ip link set vg-dummy0 promisc off")
    assert len(alerts) == 1
    a = alerts[0]
    assert set(a) >= {"ts", "host", "source", "target", "check", "severity", "summary",
                      "evidence", "attack"}
    assert a["source"] == "ids" and a["target"] == {"kind": "interface", "id": "vg-dummy0"}
    assert a["ts"].endswith("Z") and "." in a["ts"]
    assert a["severity"] == "medium" and a["attack"] == ["T1040"]
    assert a["evidence"]["interface"] == "vg-dummy0" and a["evidence"]["promiscuity"] >= 1
    assert scan(run_vigil, g) == []


def test_deleted_binary_in_tmp(ids_guest, run_vigil):
    g = ids_guest
    out = g.run("cp /bin/vigil-worker /tmp/.dropper && "
                "(/tmp/.dropper --mode bot --id 66 >/dev/null 2>&1 &) ; sleep 0.5; "
                "rm /tmp/.dropper; pidof .dropper")
    pid = int(out.split()[0])
    try:
        alerts = scan(run_vigil, g)
        deleted = only(alerts, "suspicious-process", "deleted-executable")
        writable = only(alerts, "suspicious-process", "world-writable-path")
        assert [a["evidence"]["pid"] for a in deleted] == [pid]
        assert deleted[0]["evidence"]["exe"] == "/tmp/.dropper"
        assert deleted[0]["severity"] == "high" and deleted[0]["attack"] == ["T1070.004"]
        assert [a["evidence"]["pid"] for a in writable] == [pid]
        assert {a["check"] for a in alerts} == {"suspicious-process"}, alerts
    finally:
        g.run(f"kill {pid}; true")
    time.sleep(0.3)
    assert scan(run_vigil, g) == []


def test_masquerading_process(ids_guest, run_vigil):
    g = ids_guest
    out = g.run("(vigil-worker --mode x --id 67 --rename kworker/0:9 >/dev/null 2>&1 &) ; "
                "sleep 0.5; pidof kworker/0:9 || ps | grep 'id 67' | grep -v grep")
    pid = int(out.split()[0])
    try:
        alerts = only(scan(run_vigil, g), "suspicious-process", "name-mismatch")
        assert len(alerts) == 1, alerts
        ev = alerts[0]["evidence"]
        assert ev["pid"] == pid and ev["comm"] == "kworker/0:9"
        assert ev["exe"] == "/bin/vigil-worker"
    finally:
        g.run(f"kill {pid}; true")
    time.sleep(0.3)
    assert scan(run_vigil, g) == []


def test_elf_core_scan_matches_live(ids_guest, run_vigil, tmp_path):
    g = ids_guest
    g.run("ip link set vg-dummy0 promisc on")
    g.pause()
    try:
        live = scan(run_vigil, g)
        core = g.dump_elf(tmp_path / "core.elf")
        rc, out, err = run_vigil("ids", "scan", "-j", "--vm", core)
    finally:
        g.resume()
        g.run("ip link set vg-dummy0 promisc off")
    assert rc == 1, err
    from_core = [json.loads(line) for line in out.splitlines()]
    strip = [(a["check"], a["target"]["id"], a["summary"]) for a in live]
    assert strip == [(a["check"], a["target"]["id"], a["summary"]) for a in from_core]
    assert strip == [("promisc-interface", "vg-dummy0",
                      "interface vg-dummy0 is in promiscuous mode (a sniffer)")]


def test_unknown_module_allowlist(ids_guest, run_vigil):
    g = ids_guest
    assert scan(run_vigil, g, "--allow-modules", "dummy,veth") == []
    alerts = scan(run_vigil, g, "--allow-modules", "dummy", "--check", "unknown-module")
    assert [(a["check"], a["target"]["id"]) for a in alerts] == [("unknown-module", "veth")]


def test_bad_check_name(run_vigil, ids_guest):
    rc, out, err = run_vigil("ids", "scan", "--vm", ids_guest.mem_path, "--check", "nope")
    assert rc == 2 and out == "" and err.startswith("vigil: ") and "nope" in err


def test_bind_shell_port_2001(ids_guest, run_vigil):
    """A bind shell (busybox nc serving /bin/sh) on TCP 2001: not on chkrootkit's list, but
    held by a shell-like process, and not allowed by the port policy."""
    g = ids_guest
    g.run("(nc -l -p 2001 -e /bin/sh >/dev/null 2>&1 &) ; sleep 0.5")
    try:
        pid = int(g.run("pidof nc").split()[0])
        alerts = only(scan(run_vigil, g), "backdoor-port")
        # busybox nc listens dual-stack, on ::
        assert [(a["target"]["id"], a["evidence"]["reason"]) for a in alerts] == \
            [("tcp6/2001", "shell-listener")], alerts
        ev = alerts[0]["evidence"]
        assert ev["owner"] == {"pid": pid, "comm": "nc"} and ev["addr"] == "::"
        assert alerts[0]["severity"] == "high" and alerts[0]["attack"] == ["T1571"]
        # with a policy, the worker ports the guest runs are allowed and only 2001 is left
        allowed = only(scan(run_vigil, g, "--allow-ports", "80,4242,4207"), "backdoor-port")
        assert [a["target"]["id"] for a in allowed] == ["tcp6/2001"]
    finally:
        g.run("killall nc; true")
    time.sleep(0.3)
    assert scan(run_vigil, g) == []


def test_bindshell_list_port(ids_guest, run_vigil):
    """A listener on 31337 (chkrootkit's bindshell list) is critical whatever holds it."""
    g = ids_guest
    g.run("(vigil-worker --mode bot --id 68 --listen 31337 >/dev/null 2>&1 &) ; sleep 0.5")
    try:
        alerts = only(scan(run_vigil, g), "backdoor-port")
        assert [(a["target"]["id"], a["evidence"]["reason"], a["severity"]) for a in alerts] \
            == [("tcp/31337", "bindshell-port", "critical")]
        assert alerts[0]["evidence"]["owner"]["comm"] == "vigil-worker"
    finally:
        g.run("kill $(ps | grep 'id 68' | grep -v grep | awk '{print $1}'); true")
    time.sleep(0.3)
    assert only(scan(run_vigil, g), "backdoor-port") == []
