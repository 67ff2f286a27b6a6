"""The memory broker and remote:// sources over real TCP, between two network namespaces (the
VM host with QEMU and `vigil broker run`, the monitoring host with the vmi/ids commands) joined
by a veth pair:

- `vigil key gen` writes secret keys 0600, never over an existing file;
- vmi ps, vmi lsmod and ids scan through the broker give what the local file gives;
- a key the broker does not know, a guest the key may not read or that does not exist, and a
  broker that is not the pinned one are refused, with nothing served;
- a relay that flips a bit in, replays or reorders the channel's frames is detected: the
  command fails and prints nothing, and the broker serves nothing to a tampered request;
- `ids watch` through the broker rides out the broker going away and coming back, and still
  alerts what happens in the guest afterwards.
"""
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import attacks
from conftest import VIGIL_BIN

HERE = Path(__file__).resolve().parent
PID = os.getpid()
NS_B, NS_C = f"vgbr{PID}b", f"vgbr{PID}c"
VETH_B, VETH_C = f"vbb{PID}"[:15], f"vbc{PID}"[:15]
NET = f"10.{200 + PID % 50}.{PID // 50 % 250}"
BROKER_IP = f"{NET}.1"
PORT = 7070


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def in_ns(ns, *cmd):
    return ["ip", "netns", "exec", ns, *map(str, cmd)]


@pytest.fixture(scope="module")
def netns():
    for ns in (NS_B, NS_C):
        sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", VETH_B, "type", "veth", "peer", "name", VETH_C)
        sh("ip", "link", "set", VETH_B, "netns", NS_B)
        sh("ip", "link", "set", VETH_C, "netns", NS_C)
        for ns, dev, ip in ((NS_B, VETH_B, BROKER_IP), (NS_C, VETH_C, f"{NET}.2")):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield
    finally:
        for ns in (NS_B, NS_C):
            sh("ip", "netns", "del", ns, check=False)


class Keys:
    def __init__(self, tmp):
        self.dir = tmp
        self.pub = {}
        for name in ("broker", "client", "other", "stranger"):
            r = sh(str(VIGIL_BIN), "key", "gen", str(tmp / f"{name}.key"))
            self.pub[name] = r.stdout.strip()

    def key(self, name):
        return self.dir / f"{name}.key"


class Broker:
    """`vigil broker run` in the broker namespace; its log in .log()."""

    def __init__(self, tmp, keys, mem_path, port=PORT):
        self.tmp = tmp
        self.conf = tmp / "broker.conf"
        self.conf.write_text(
            f"[broker]\nlisten = {BROKER_IP}:{port}\nkey = {keys.key('broker')}\n\n"
            f"[vm guest]\nmemory = {mem_path}\nallow = {keys.pub['client']}\n\n"
            f"[vm other]\nmemory = {mem_path}\nallow = {keys.pub['other']}\n")
        self.logpath = tmp / "broker.log"
        self.proc = None

    def start(self):
        self.logf = open(self.logpath, "a")
        self.proc = subprocess.Popen(in_ns(NS_B, VIGIL_BIN, "broker", "run", "--config",
                                           self.conf),
                                     stdout=self.logf, stderr=self.logf,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while "listening on" not in self.log():
            assert self.proc.poll() is None, f"broker exited: {self.log()}"
            assert time.monotonic() < deadline, "broker did not start"
            time.sleep(0.05)

    def kill(self):
        """The broker host's process and its sessions go away at once (a dropped link)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.logf.close()

    def log(self):
        return self.logpath.read_text() if self.logpath.exists() else ""

    def wait_log(self, text, timeout=10):
        """True once TEXT is in the log (a session child logs after its client is gone)."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


@pytest.fixture(scope="module")
def setup(guest, netns, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("broker")
    keys = Keys(tmp)
    broker = Broker(tmp, keys, guest.mem_path)
    broker.start()
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"), HOME=str(tmp))
    try:
        yield tmp, keys, broker, env
    finally:
        broker.kill()


def uri(keys, name="guest", key="client", pub="broker", host=BROKER_IP, port=PORT):
    return (f"remote://{host}:{port}/{name}?key={keys.key(key)}"
            f"&pub={keys.pub[pub]}")


def client(env, *args, timeout=180):
    r = subprocess.run(in_ns(NS_C, VIGIL_BIN, *args), capture_output=True, text=True,
                       timeout=timeout, env=env)
    return r.returncode, r.stdout, r.stderr


def local(env, *args):
    r = subprocess.run([str(VIGIL_BIN), *map(str, args)], capture_output=True, text=True,
                       timeout=180, env=env)
    return r.returncode, r.stdout, r.stderr


def test_key_gen_is_private(tmp_path):
    key = tmp_path / "k.key"
    r = sh(str(VIGIL_BIN), "key", "gen", str(key))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(r.stdout.strip()) == 44
    assert sh(str(VIGIL_BIN), "key", "pub", str(key)).stdout == r.stdout
    before = key.read_bytes()
    again = sh(str(VIGIL_BIN), "key", "gen", str(key), check=False)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    assert key.read_bytes() == before


def strip_ps(rows):
    return sorted((p["pid"], p["tgid"], p["ppid"], p["uid"], p["comm"], p["cmdline"], p["exe"])
                  for p in rows)


def test_remote_equals_local(setup, guest):
    tmp, keys, broker, env = setup
    u = uri(keys)
    for cmd in (("vmi", "ps", "-j"), ("vmi", "lsmod", "-j"), ("vmi", "info", "-j")):
        rc, rout, err = client(env, *cmd, "--vm", u)
        assert rc == 0, err
        rc, lout, err = local(env, *cmd, "--vm", guest.mem_path)
        assert rc == 0, err
        if cmd[1] == "ps":
            assert strip_ps(json.loads(rout)) == strip_ps(json.loads(lout))
        elif cmd[1] == "lsmod":
            assert json.loads(rout) == json.loads(lout)
            assert {m["name"] for m in json.loads(rout)} >= {"dummy", "veth"}
        else:
            r, l = json.loads(rout), json.loads(lout)
            for k in ("release", "kaslr_slide", "page_table_base", "symbols", "ram_bytes"):
                assert r[k] == l[k], k
            assert r["source"].startswith("remote://")
    rc, rout, err = client(env, "ids", "scan", "-j", "--vm", u)
    lrc, lout, lerr = local(env, "ids", "scan", "-j", "--vm", guest.mem_path)
    assert (rc, rout) == (lrc, lout), err + lerr
    assert rc == 0
    assert broker.wait_log("serving guest 'guest'")


def test_refused_key(setup):
    tmp, keys, broker, env = setup
    rc, out, err = client(env, "vmi", "ps", "--vm", uri(keys, key="stranger"))
    assert rc == 2 and out == ""
    assert "refused this client's key" in err and keys.pub["stranger"] in err
    assert broker.wait_log("refused client key")


def test_wrong_guest(setup):
    tmp, keys, broker, env = setup
    # a guest this key may not read and one that does not exist read the same
    for name, key in (("other", "client"), ("guest", "other"), ("nosuch", "client")):
        rc, out, err = client(env, "vmi", "ps", "--vm", uri(keys, name=name, key=key))
        assert rc == 2 and out == ""
        assert f"no guest '{name}' for this client's key" in err
    assert broker.wait_log("refused guest 'nosuch' (no such guest)")


def test_wrong_broker_key(setup):
    tmp, keys, broker, env = setup
    rc, out, err = client(env, "vmi", "ps", "--vm", uri(keys, pub="other"))
    assert rc == 2 and out == ""
    assert "not the one this client trusts" in err


@pytest.mark.parametrize("mode", ["flip-c2s", "flip-s2c", "replay-c2s", "replay-s2c",
                                  "reorder-s2c"])
def test_tampered_frames(setup, mode):
    tmp, keys, broker, env = setup
    lport = 17000 + PID % 1000
    proxy = subprocess.Popen(in_ns(NS_C, sys.executable, HERE / "wire_proxy.py", mode, lport,
                                   BROKER_IP, PORT),
                             stdout=subprocess.PIPE, text=True)
    try:
        assert proxy.stdout.readline().strip() == "ready"
        served = broker.log().count("serving guest")
        rc, out, err = client(env, "vmi", "ps", "--vm",
                              uri(keys, host="127.0.0.1", port=lport) + "&timeout=3000",
                              timeout=60)
    finally:
        proxy.kill()
        proxy.wait()
    assert rc == 2, err
    assert out == ""
    if mode.endswith("c2s"):
        # the altered request was the OPEN: the broker opened nothing for it; a replayed
        # OPEN is served once (the genuine copy), never twice
        assert broker.wait_log("failed authentication")
        assert broker.log().count("serving guest") == served + (mode == "replay-c2s")
    else:
        assert "failed authentication" in err


def test_watch_rides_out_a_dropped_broker(setup, guest):
    tmp, keys, broker, env = setup
    alerts = tmp / "watch-alerts.jsonl"
    errf = open(tmp / "watch.err", "w")
    watch = subprocess.Popen(in_ns(NS_C, VIGIL_BIN, "ids", "watch", "--vm", uri(keys),
                                   "--interval", "1s", "--output", f"file:{alerts}"),
                             stdout=subprocess.DEVNULL, stderr=errf, env=env)
    shell = None
    try:
        time.sleep(6)  # a few looks through the broker
        broker.kill()
        time.sleep(5)  # watch keeps ticking with the broker gone
        assert watch.poll() is None, (tmp / "watch.err").read_text()
        broker.start()
        time.sleep(3)
        shell = attacks.bind_shell(guest)  # happens after the outage
        deadline = time.monotonic() + 60
        found = []
        while time.monotonic() < deadline and not found:
            lines = alerts.read_text().splitlines() if alerts.exists() else []
            found = [json.loads(x) for x in lines
                     if json.loads(x)["check"] == "backdoor-port"]
            assert watch.poll() is None, (tmp / "watch.err").read_text()
            time.sleep(0.5)
        assert found, f"no alert after the broker came back: {lines}"
        assert found[0]["evidence"]["port"] == attacks.BINDSHELL_PORT
        states = [json.loads(x)["evidence"]["state"] for x in lines
                  if json.loads(x)["check"] == "guest-state"]
        # the outage is not the guest's: it neither went away nor rebooted
        assert "rebooted" not in states and "gone" not in states, states
    finally:
        if shell:
            shell.undo()
        watch.send_signal(signal.SIGTERM)
        watch.wait(30)
        errf.close()
