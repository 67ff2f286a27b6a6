"""vigil net switch with two real QEMU guests (TCG), no root needed for the guests' side.

Guest A (the attacker, 10.9.x.1) and guest B (the victim, 10.9.x.2: httpd, telnetd, a bindshell
on 31337) each have two e1000 NICs: eth0 on an IDS switch (stream ports), eth1 on an IPS switch
(A on a stream port, B on a dgram port). A scans and brute-forces B with vigil-netprobe (a small
static program in the test guest):
- on the IDS switch the attacks get through and raise vertical-scan, brute-force,
  default-credentials and backdoor-port alerts with pcaps of the flagged flows and flow records;
- on the IPS switch the bindshell connection fails while HTTP works, and once the brute force is
  detected every further connection from A fails;
- `ids watch --switch-alerts` on A's memory names the process that owns a flagged flow;
- a client that floods, sends bad frames, stops reading or vanishes on another port does not
  stop the guests talking; a tap uplink into a network namespace reaches the guests (root).
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import netpcap as N
from conftest import BOOT_TIMEOUT, VIGIL_BIN, _boot_times, _describe
from guest import REPO, Guest

DEFAULT_RULES = REPO / "src" / "net" / "rules" / "default.rules"
ALERT_WAIT = 90  # seconds: TCG guests on a busy machine


class Switch:
    """A running `vigil net switch`, alerts to a file."""

    def __init__(self, d, name, args):
        self.alerts_path = d / f"{name}.jsonl"
        self.err_path = d / f"{name}.err"
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            [str(VIGIL_BIN), "net", "switch", "--output", f"file:{self.alerts_path}", *map(str, args)],
            stdout=subprocess.DEVNULL, stderr=self.err)

    def alerts(self):
        if not self.alerts_path.exists():
            return []
        # whole lines only: the switch may be writing the next one
        lines = self.alerts_path.read_text().splitlines(keepends=True)
        return [json.loads(x) for x in lines if x.endswith("\n")]

    def wait(self, pred, timeout=ALERT_WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [a for a in self.alerts() if pred(a)]
            if hits:
                return hits
            assert self.proc.poll() is None, f"switch exited: {self.err_path.read_text()}"
            time.sleep(0.3)
        pytest.fail(f"no such alert in {timeout}s; have: {[a['check'] for a in self.alerts()]}")

    def stderr(self):
        return self.err_path.read_text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        return self.proc.returncode


def flow_of(a):
    return a.get("evidence", {}).get("flow", {})


def wait_ping(g, ip, tries=20):
    for _ in range(tries):
        if g.run_rc(f"ping -c 1 -W 2 {ip}", timeout=60)[0] == 0:
            return True
    return False


class Lab:
    pass


@pytest.fixture(scope="module")
def lab(guest_image):
    pid = os.getpid()
    d = Path(tempfile.mkdtemp(prefix=f"vgnet{pid}-", dir="/tmp"))  # short: socket paths
    (d / "pcap").mkdir()
    lab = Lab()
    lab.d = d
    lab.ns = f"vgnet{pid}" if os.geteuid() == 0 else None
    if lab.ns:
        subprocess.run(["ip", "netns", "add", lab.ns], check=True)
    (d / "ips.rules").write_text("check new-listener off\n")
    # the IDS is up first (its socket must exist when the switch's unix: output opens); it
    # waits for guest A's memory, which appears when A starts
    lab.watch_out = d / "watch.jsonl"
    lab.watch_err = open(d / "watch.err", "w")
    lab.watch = subprocess.Popen(
        [str(VIGIL_BIN), "ids", "watch", "--vm", f"/dev/shm/vigil-neta-{pid}", "--interval", "1s",
         "--switch-alerts", d / "feed.sock", "--output", f"file:{lab.watch_out}"],
        stdout=subprocess.DEVNULL, stderr=lab.watch_err)
    for _ in range(100):
        if (d / "feed.sock").exists():
            break
        time.sleep(0.1)
    uplink = ["--uplink", f"netns:{lab.ns}"] if lab.ns else []
    lab.ids = Switch(d, "ids", ["--port", f"a={d}/ids-a.sock", "--port", f"b={d}/ids-b.sock",
                                "--port", f"c={d}/ids-c.sock", "--port", f"d={d}/ids-d.sock",
                                *uplink, "--var", "HOME_NET=[10.9.0.0/24]",
                                "--pcap-dir", d / "pcap", "--flows", d / "flows.jsonl",
                                "--output", f"unix:{d}/feed.sock"])
    lab.ips = Switch(d, "ips", ["--ips", "--port", f"a={d}/ips-a.sock",
                                "--port", f"b=dgram:{d}/ips-b.sock", "--rules", DEFAULT_RULES,
                                "--rules", d / "ips.rules"])
    for sock in ("ids-a", "ids-b", "ips-a", "ips-b"):
        for _ in range(100):
            if (d / f"{sock}.sock").exists():
                break
            time.sleep(0.05)
    nic = lambda i, path, mac: ["-netdev", f"stream,id=n{i},server=off,addr.type=unix,"
                                f"addr.path={path}", "-device", f"e1000,netdev=n{i},mac={mac}"]
    lab.a = Guest("neta", image_dir=guest_image, extra_append="vigil.load=e1000",
                  extra_args=nic(0, d / "ids-a.sock", "52:54:00:12:00:01") +
                  nic(1, d / "ips-a.sock", "52:54:00:13:00:01"))
    lab.b = Guest("netb", image_dir=guest_image, extra_append="vigil.load=e1000",
                  extra_args=nic(0, d / "ids-b.sock", "52:54:00:12:00:02") +
                  ["-netdev", f"dgram,id=n1,local.type=unix,local.path={d}/qemu-b.sock,"
                   f"remote.type=unix,remote.path={d}/ips-b.sock",
                   "-device", "e1000,netdev=n1,mac=52:54:00:13:00:02"])
    try:
        lab.a.start()
        lab.b.start()
        for g in (lab.a, lab.b):
            _boot_wait(g)
        for g, n in ((lab.a, 1), (lab.b, 2)):
            g.run(f"ip addr add 10.9.0.{n}/24 dev eth0; ip link set eth0 up; "
                  f"ip addr add 10.9.1.{n}/24 dev eth1; ip link set eth1 up")
        # a bindshell stand-in: busybox nc as a persistent server (-ll), one cat per peer
        lab.b.run("telnetd -p 23 -l /bin/sh; nc -ll -p 31337 -e /bin/cat >/dev/null 2>&1 &")
        assert wait_ping(lab.a, "10.9.0.2"), "guests cannot reach each other on the IDS switch"
        assert wait_ping(lab.a, "10.9.1.2"), "guests cannot reach each other on the IPS switch"
        yield lab
    finally:
        for g in (lab.a, lab.b):
            g.stop()
        lab.watch.terminate()
        lab.watch.wait(20)
        lab.watch_err.close()
        lab.ids.stop()
        lab.ips.stop()
        if lab.ns:
            subprocess.run(["ip", "netns", "del", lab.ns], check=False)
        shutil.rmtree(d, ignore_errors=True)


def _boot_wait(g):
    secs = g.wait_boot(BOOT_TIMEOUT)
    _boot_times.append((_describe(g), secs))


def test_guests_talk_and_flows_are_recorded(lab):
    out = lab.a.run("wget -q -O - http://10.9.0.2/", timeout=60)
    assert "vigil test guest" in out
    # flow records are written when flows end (closed flows after a few seconds)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = (lab.d / "flows.jsonl").read_text() if (lab.d / "flows.jsonl").exists() else ""
        flows = [json.loads(x) for x in text.splitlines(keepends=True) if x.endswith("\n")]
        http = [f for f in flows if f["dst_port"] == 80 and f["src_ip"] == "10.9.0.1"]
        if http:
            break
        time.sleep(1)
    assert http, "no flow record for the HTTP conversation"
    f = http[0]
    assert f["app"] == "HTTP" and f["dst_ip"] == "10.9.0.2"
    assert f["src_switch_port"] == "a" and f["dst_switch_port"] == "b"
    assert f["pkts_toserver"] >= 3 and f["bytes_toclient"] > 100


@pytest.mark.skipif(os.geteuid() != 0, reason="a tap in a network namespace needs root")
def test_uplink_into_a_namespace(lab):
    ns = ["ip", "netns", "exec", lab.ns]
    subprocess.run(ns + ["ip", "addr", "add", "10.9.0.254/24", "dev", "vigil0"], check=True)
    subprocess.run(ns + ["ip", "link", "set", "lo", "up"], check=True)
    # the namespace's kernel answers guest B's pings through the tap
    assert wait_ping(lab.b, "10.9.0.254"), "guest B cannot reach the namespace"
    fetch = ("import urllib.request\nfor i in range(10):\n try:\n  print(urllib.request."
             "urlopen('http://10.9.0.2/', timeout=10).read().decode()); break\n"
             " except OSError as e: print(e)")
    r = subprocess.run(ns + [sys.executable, "-c", fetch], capture_output=True, text=True,
                       timeout=200)
    assert "vigil test guest" in r.stdout, r.stdout + r.stderr


def test_ids_alerts_on_scan_brute_force_and_bindshell(lab):
    out = lab.a.run("vigil-netprobe scan 10.9.0.2 1 100", timeout=300)
    assert "open 23" in out and "open 80" in out  # IDS mode: nothing is blocked
    scan = lab.ids.wait(lambda a: a["check"] == "vertical-scan")[0]
    assert flow_of(scan)["src_ip"] == "10.9.0.1" and flow_of(scan)["dst_ip"] == "10.9.0.2"
    assert scan["evidence"]["frame"]["in_port"] == "a" and scan["attack"] == ["T1046"]
    assert scan["source"] == "switch" and scan["evidence"]["dropped"] is False

    out = lab.a.run("vigil-netprobe brute 10.9.0.2 23 12", timeout=300)
    assert "sessions 12 failed 0" in out
    brute = lab.ids.wait(lambda a: a["check"] == "brute-force")[0]
    assert brute["evidence"]["sessions"] >= 10 and brute["evidence"]["hosts"] == 1
    assert "10.9.0.1 opened" in brute["summary"] and brute["severity"] == "high"
    creds = lab.ids.wait(lambda a: a["check"] == "default-credentials")
    assert flow_of(creds[0])["dst_port"] == 23

    assert "connected" in lab.a.run("vigil-netprobe connect 10.9.0.2 31337 20", timeout=120)
    bd = lab.ids.wait(lambda a: a["check"] == "backdoor-port")[0]
    assert flow_of(bd)["dst_port"] == 31337 and bd["evidence"]["rule"]["sid"] == 9000001
    # the flagged flow's pcap holds its frames, starting with the SYN that raised it
    frames = N.read_pcap(bd["evidence"]["pcap"])
    assert frames, "empty pcap"
    ports = struct.unpack(">HH", frames[0][1][34:38])
    assert ports == (flow_of(bd)["src_port"], 31337)
    assert frames[0][1][47] & N.SYN


def test_ids_watch_names_the_owning_process(lab):
    assert lab.a.mem_path == f"/dev/shm/vigil-neta-{os.getpid()}"
    try:
        lab.a.run("vigil-netprobe hold 10.9.0.2 31337 180 > /tmp/hold.out 2>&1 &")
        port = None
        for _ in range(60):
            txt = lab.a.run("cat /tmp/hold.out", check=False)
            if "holding" in txt:
                port = int(txt.split()[1])
                break
            time.sleep(1)
        assert port, "the holder did not connect"
        pid = int(lab.a.run("pidof vigil-netprobe").split()[0])
        deadline = time.monotonic() + ALERT_WAIT
        hits = []
        while time.monotonic() < deadline and not hits:
            out = lab.watch_out
            lines = out.read_text().splitlines(keepends=True) if out.exists() else []
            hits = [a for a in map(json.loads, (x for x in lines if x.endswith("\n")))
                    if a["check"] == "flow-owner"
                    and a["evidence"]["flow"]["src_port"] == port]
            assert lab.watch.poll() is None, (lab.d / "watch.err").read_text()
            time.sleep(0.5)
        assert hits, f"no flow-owner alert: {(lab.d / 'watch.err').read_text()}"
        a = hits[0]
        assert a["source"] == "ids" and a["target"] == {"kind": "process", "id": str(pid)}
        assert a["evidence"]["comm"] == "vigil-netprobe" and a["evidence"]["pid"] == pid
        assert a["evidence"]["socket"] == "connected"
        assert a["evidence"]["switch_alert"]["check"] == "backdoor-port"
        assert f"pid {pid}" in a["summary"]
    finally:
        lab.a.run("kill $(pidof vigil-netprobe) 2>/dev/null; true")


def frame(dst, src, size=60):
    return dst + src + b"\x08\x00" + b"\x45" + b"\0" * (size - 15)


def test_floods_bad_frames_and_vanishing_peers_do_not_hurt_the_guests(lab):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(str(lab.d / "ids-c.sock"))
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # connects and never reads
    slow.connect(str(lab.d / "ids-d.sock"))
    mc, md = bytes.fromhex("525400ee00cc"), bytes.fromhex("525400ee00dd")
    send = lambda s, f: s.sendall(struct.pack(">I", len(f)) + f)
    send(slow, frame(b"\xff" * 6, md))  # the switch learns where md is
    time.sleep(0.5)
    # a flood at the slow reader (unicast: it reaches no guest), runts and garbage
    burst = b"".join(struct.pack(">I", 1000) + md + mc + b"\x08\x00" + os.urandom(986)
                     for _ in range(4000))
    runts = b"".join(struct.pack(">I", 5) + b"\x01" * 5 for _ in range(500))
    garbage = b"".join(struct.pack(">I", 80) + os.urandom(80) for _ in range(2000))
    c.settimeout(60)
    c.sendall(burst + runts + garbage)
    # a short broadcast storm the guests do receive
    c.sendall(b"".join(struct.pack(">I", 60) + frame(b"\xff" * 6, mc) for _ in range(300)))
    assert wait_ping(lab.a, "10.9.0.2"), "guests lost each other during the flood"
    # a length no QEMU sends: the port is dropped, the switch carries on
    c.sendall(struct.pack(">I", 1 << 30))
    c.settimeout(10)
    while c.recv(65536):  # frames flooded to c before it was dropped, then the end
        pass
    assert "port c: disconnected: its peer sent a frame length" in lab.ids.stderr()
    # peers that vanish mid-stream free their port for the next
    c.close()
    slow.close()
    c2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c2.connect(str(lab.d / "ids-c.sock"))
    send(c2, frame(b"\xff" * 6, mc))
    for _ in range(50):
        if lab.ids.stderr().count("port c: connected") >= 2:
            break
        time.sleep(0.2)
    assert lab.ids.stderr().count("port c: connected") >= 2
    c2.close()
    assert "vigil test guest" in lab.a.run("wget -q -O - http://10.9.0.2/", timeout=60)
    assert lab.ids.proc.poll() is None
    bad = [a for a in lab.ids.alerts() if a["check"] == "malformed-frame"
           and a["evidence"]["frame"].get("in_port") == "c"]
    assert bad, "garbage from port c raised no malformed-frame alert"


def test_ips_drops_flagged_flows_and_blocks_the_brute_forcer(lab):
    probe = lambda port, secs=10: lab.a.run(f"vigil-netprobe connect 10.9.1.2 {port} {secs}",
                                            check=False, timeout=120)
    assert "connected" in probe(80)
    assert "failed" in probe(31337, 5)  # the SYN to the bindshell is dropped
    bd = lab.ips.wait(lambda a: a["check"] == "backdoor-port")[0]
    assert bd["evidence"]["mode"] == "ips" and bd["evidence"]["dropped"] is True
    assert "connected" in probe(80)  # only the flagged flow: other traffic still passes
    out = lab.a.run("vigil-netprobe brute 10.9.1.2 23 14", timeout=300)
    ok, failed = int(out.split()[1]), int(out.split()[3])
    assert ok >= 9 and failed >= 1, out  # sessions stop working once it is caught
    brute = lab.ips.wait(lambda a: a["check"] == "brute-force")[0]
    assert brute["evidence"]["source_blocked_seconds"] == 300
    assert "failed" in probe(80, 5)  # the source is blocked now
    # the IDS switch, which saw none of this, still lets A through
    assert "connected" in lab.a.run("vigil-netprobe connect 10.9.0.2 80 10", timeout=120)
