"""backdoor-port on a real guest: what a listener runs for each connection decides how it is
reported. A busybox `nc -ll -p 8080 -e /bin/cat` service recorded in a baseline is clean on
every scan, while `nc -ll -p 2001 -e /bin/sh` is a shell listener (high) whether or not the
baseline saw it; a netcat serving anything else is a lower finding; a policy's [listeners]
entry accepts one listener by port and executable; and a shell with no -e in sight is found
through the listener's children (a connection open now) or its stdio pipe (a mkfifo shell)."""
import json
import os
import time

import pytest

from attacks import listening

CAT = "nc -ll -p 8080 -e /bin/cat"
SHELL = "nc -ll -p 2001 -e /bin/sh"


def scan(run_vigil, g, *extra):
    rc, out, err = run_vigil("ids", "scan", "-j", "--vm", g.mem_path, *extra)
    assert rc in (0, 1), f"scan failed: rc={rc} {err}"
    alerts = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert (rc == 1) == bool(alerts), (rc, alerts)
    return alerts


def ports(alerts):
    """{port: (reason, severity)} of the backdoor-port alerts."""
    return {a["evidence"]["port"]: (a["evidence"]["reason"], a["severity"])
            for a in alerts if a["check"] == "backdoor-port"}


def serve(g, cmd, port):
    """Start cmd in the guest (init's child, output discarded) and wait until port listens."""
    g.run(f"({cmd} &) ; true")
    deadline = time.monotonic() + 20
    while not listening(g, port):
        assert time.monotonic() < deadline, f"{cmd} did not listen on {port}"
        time.sleep(0.2)


def stop(g, *patterns):
    for p in patterns:
        g.run(f"for p in $(ps -o pid,args | grep -F -- '{p}' | grep -v grep | "
              f"awk '{{print $1}}'); do kill -9 $p; done; true")
    time.sleep(0.3)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp(f"ids-listeners-{os.getpid()}")


def test_cat_service_in_baseline_is_clean_and_shell_is_caught(guest, run_vigil, work):
    g = guest
    bl = work / "with-cat.json"
    serve(g, f"{CAT} >/dev/null 2>&1", 8080)
    try:
        # without a baseline: a netcat serving cat, a lower finding than a shell listener
        alerts = [a for a in scan(run_vigil, g) if a["check"] == "backdoor-port"]
        assert ports(alerts) == {8080: ("netcat-exec", "medium")}, alerts
        ev = alerts[0]["evidence"]
        assert ev["exec"] == "/bin/cat" and ev["cmdline"] == CAT
        assert ev["owner"]["comm"] == "nc" and ev["exe"] == "/bin/busybox"
        rc, _, err = run_vigil("ids", "baseline", "--vm", g.mem_path, "-o", bl)
        assert rc == 0, err
        assert "netcat-exec" in err  # the baseline warns about what it records
        listen = json.loads(bl.read_text())["listen"]
        assert {"port": 8080, "exe": "/bin/busybox", "cmdline": CAT}.items() <= \
            next(e for e in listen if e["port"] == 8080).items()
        # the service the baseline recorded is clean, on every scan
        for _ in range(2):
            assert scan(run_vigil, g, "--baseline", bl) == []
        # a bind shell started since is caught, high
        serve(g, f"{SHELL} >/dev/null 2>&1", 2001)
        try:
            alerts = scan(run_vigil, g, "--baseline", bl)
            assert ports(alerts) == {2001: ("shell-listener", "high")}, alerts
            assert {a["check"] for a in alerts} == {"backdoor-port"}, alerts
            ev = alerts[0]["evidence"]
            assert ev["exec"] == "/bin/sh" and ev["shell_via"] == "argv"
            assert alerts[0]["target"]["id"] == "tcp6/2001"
        finally:
            stop(g, SHELL)
        # the same port and program with other arguments is not the recorded service
        stop(g, CAT)
        serve(g, "nc -ll -p 8080 -e /bin/cat -u >/dev/null 2>&1", 8080)
        assert ports(scan(run_vigil, g, "--baseline", bl)) == {8080: ("netcat-exec", "medium")}
    finally:
        stop(g, "nc -ll -p 8080")
    assert scan(run_vigil, g, "--baseline", bl) == []


def test_shell_listener_in_the_baseline_is_still_high(guest, run_vigil, work):
    g = guest
    bl = work / "with-shell.json"
    serve(g, f"{CAT} >/dev/null 2>&1", 8080)
    serve(g, f"{SHELL} >/dev/null 2>&1", 2001)
    try:
        rc, _, err = run_vigil("ids", "baseline", "--vm", g.mem_path, "-o", bl)
        assert rc == 0 and "shell-listener" in err, err
        alerts = scan(run_vigil, g, "--baseline", bl)
        assert ports(alerts) == {2001: ("shell-listener", "high")}, alerts
    finally:
        stop(g, CAT, SHELL)


def test_policy_accepts_a_listener_by_port_and_executable(guest, run_vigil, work):
    g = guest

    def policy(name, text):
        p = work / name
        p.write_text(text)
        return p

    ok = policy("ok.policy", "[listeners]\nallow = 8080:/bin/busybox, 2001:/bin/busybox\n")
    other = policy("other.policy", "[listeners]\nallow = 8080:/usr/bin/nc\n")
    bad = policy("bad.policy", "# accepted listeners\n[listeners]\nallow = 8080\n")
    serve(g, f"{CAT} >/dev/null 2>&1", 8080)
    try:
        assert scan(run_vigil, g, "--policy", ok) == []
        assert ports(scan(run_vigil, g, "--policy", other)) == \
            {8080: ("netcat-exec", "medium")}
        rc, out, err = run_vigil("ids", "scan", "--vm", g.mem_path, "--policy", bad)
        assert rc == 2 and out == "" and "line 3" in err and "PORT:/path" in err, err
        # accepting a port and program does not make a shell on it acceptable
        serve(g, f"{SHELL} >/dev/null 2>&1", 2001)
        assert ports(scan(run_vigil, g, "--policy", ok)) == {2001: ("shell-listener", "high")}
    finally:
        stop(g, CAT, SHELL)


def test_shell_seen_through_children_and_pipes(guest, run_vigil):
    g = guest
    g.run("printf '#!/bin/sh\\nexec /bin/sh -i\\n' > /tmp/vg-svc; chmod +x /tmp/vg-svc; "
          "rm -f /tmp/vg-fifo; mkfifo /tmp/vg-fifo")
    # a script served per connection; a mkfifo bind shell (no -e); a plain netcat
    serve(g, "nc -ll -p 2004 -e /tmp/vg-svc >/dev/null 2>&1", 2004)
    serve(g, "cat /tmp/vg-fifo | sh -i 2>&1 | nc -l -p 2002 > /tmp/vg-fifo", 2002)
    serve(g, "nc -l -p 2003 </dev/null >/dev/null 2>&1", 2003)
    try:
        alerts = scan(run_vigil, g)
        assert ports(alerts) == {2004: ("netcat-exec", "medium"),
                                 2002: ("shell-listener", "high"),
                                 2003: ("netcat-listener", "medium")}, alerts
        fifo = next(a for a in alerts if a["evidence"]["port"] == 2002)["evidence"]
        assert fifo["shell_via"] == "pipe" and fifo["shell"]["comm"] == "sh"
        assert fifo["shell"]["cmdline"] == "sh -i"
        # a connection open now: the script has become the shell it execs
        g.run("(sleep 120 | nc 127.0.0.1 2004 >/dev/null 2>&1 &) ; sleep 1")
        alerts = scan(run_vigil, g)
        assert ports(alerts)[2004] == ("shell-listener", "high"), alerts
        ev = next(a for a in alerts if a["evidence"]["port"] == 2004)["evidence"]
        assert ev["shell_via"] == "child" and ev["shell"]["cmdline"] == "/bin/sh -i"
        assert ev["exec"] == "/tmp/vg-svc"
    finally:
        stop(g, "sleep 120", "nc 127.0.0.1 2004", "nc -ll -p 2004", "nc -l -p 2002",
             "cat /tmp/vg-fifo", "sh -i", "nc -l -p 2003")
    assert ports(scan(run_vigil, g)) == {}
