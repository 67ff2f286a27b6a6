#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Switch and inspection-engine benchmark (issue 11, "Speed"). Prints one JSON object.

engine: `vigil net inspect` over a large capture of 64-byte frames (generated here, cached in
  /tmp, never committed) beside nDPI's own ndpiReader over the same file in the same run
  (with its defaults, and with its give-up point set to vigil's 16 packets a flow); the
  anchor is ndpiReader's frames per second, the target 1 Mpps per core for vigil. Each
  process is measured whole (startup included) in CPU seconds, frames per CPU-second being
  the per-core rate; wall-clock and the tools' self-reported rates are listed too. Median of
  --repeat runs.
switch: the same frames sent one write per frame (as QEMU sends them) into port A and read
  at port B, through (1) a plain Unix-socket relay writing each frame once (the anchor),
  (2) `vigil net switch` with inspection (default rules, nDPI), (3) `vigil net switch
  --no-inspect`. The target is (2) within 1.3x the relay's time.

The capture: FLOWS conversations of PKTS frames each, 64 bytes per frame, interleaved in
waves of 2000 concurrent flows: HTTP, TLS, Telnet and unknown TCP (handshake, then 10-byte
payloads both ways) and DNS over UDP (22-byte payloads).

Usage: bench/net/run_bench.py [--frames N] [--repeat R] [--quick]
"""
import json
import os
import re
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VIGIL = Path(os.environ.get("VIGIL_BIN", REPO / "build" / "vigil"))
HELPER = Path(os.environ.get("BENCH_SWITCH", REPO / "build" / "bench" / "bench_switch"))


def arg(name, default):
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


QUICK = "--quick" in sys.argv
FRAMES = arg("--frames", 400_000 if QUICK else 2_000_000)
REPEAT = arg("--repeat", 1 if QUICK else 3)
PKTS = 100
SWITCH_FRAMES = min(FRAMES, 300_000 if QUICK else 1_000_000)


def ip4hdr(src, dst, proto, plen):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + plen, 0, 0x4000, 64, proto, 0, src, dst)
    s = sum(struct.unpack(">10H", h))
    s = (s & 0xFFFF) + (s >> 16)
    return h[:10] + struct.pack(">H", ~s & 0xFFFF) + h[12:]


def flow_frames(i):
    """The PKTS 64-byte frames of flow I, as a list of bytes."""
    kind = i % 5
    c = bytes([10, 1, (i >> 8) & 0xFF, i & 0xFF])
    s = bytes([10, 2, (i >> 16) & 0xFF, (i >> 8) & 0xFF])
    cm, sm = b"\x52\x54\x00\x01" + c[2:], b"\x52\x54\x00\x02" + s[2:]
    cp = 1024 + i % 60000
    out = []
    if kind == 4:  # DNS: a 22-byte query, a 22-byte answer-sized reply
        name = b"\x01a\x02co\x00\x00\x01\x00\x01"  # a.co, type A, class IN
        q = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name
        r = struct.pack(">HHHHHH", i & 0xFFFF, 0x8180, 1, 0, 0, 0) + name
        for k in range(PKTS):
            pl, fwd = (q, True) if k % 2 == 0 else (r, False)
            src, dst, sp, dp = (c, s, cp, 53) if fwd else (s, c, 53, cp)
            u = struct.pack(">HHHH", sp, dp, 8 + len(pl), 0) + pl
            out.append((sm if fwd else cm) + (cm if fwd else sm) + b"\x08\x00" +
                       ip4hdr(src, dst, 17, len(u)) + u)
        return out
    dport, first = [(80, b"GET / HTTP"), (443, b"\x16\x03\x01\x00\x2a\x01\x00\x00\x26\x03"),
                    (23, b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff"),
                    (9000 + i % 1000, b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09")][kind]
    seq_c, seq_s = 1000, 5000

    def seg(fwd, flags, pl=b""):
        src, dst, sp, dp = (c, s, cp, dport) if fwd else (s, c, dport, cp)
        t = struct.pack(">HHIIBBHHH", sp, dp, seq_c if fwd else seq_s, seq_s if fwd else seq_c,
                        5 << 4, flags, 65535, 0, 0) + pl
        f = (sm if fwd else cm) + (cm if fwd else sm) + b"\x08\x00" + ip4hdr(src, dst, 6, len(t)) + t
        return f + b"\0" * (64 - len(f))

    out += [seg(True, 0x02), seg(False, 0x12), seg(True, 0x10)]
    for k in range(PKTS - 3):
        out.append(seg(k % 2 == 0, 0x18, first if k < 2 else b"0123456789"))
    return out


def make_pcap(path, frames):
    nflows = frames // PKTS
    wave = 2000
    t = 1_700_000_000 * 1_000_000
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for w0 in range(0, nflows, wave):
            flows = [flow_frames(i) for i in range(w0, min(w0 + wave, nflows))]
            buf = bytearray()
            for k in range(PKTS):
                for fl in flows:
                    fr = fl[k]
                    buf += struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(fr), len(fr))
                    buf += fr
                    t += 1
            f.write(buf)
    return path


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, **kw):
    """(wall seconds, CPU seconds of the process, result)."""
    c, t = cpu_children(), time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return time.monotonic() - t, cpu_children() - c, r


def ndpi_rate(out):
    m = re.search(r"nDPI throughput:\s*([\d.]+)\s*([KM]?) pps", out)
    return float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6}[m.group(2)] if m else None


def engine(pcap, frames):
    """Frames per CPU-second of each whole process (startup included): on a shared machine
    wall time measures the neighbours as much as the tool; the per-core rate is what the
    target names. Wall-time rates are listed beside them."""
    tools = {
        "vigil": [str(VIGIL), "net", "inspect", str(pcap), "-j", "--stats"],
        "ndpireader": ["ndpiReader", "-i", str(pcap)],
        # the same give-up point as vigil's (16 packets a flow), like for like
        "ndpireader_16": ["ndpiReader", "-i", str(pcap), "-T", "16", "-U", "16"],
    }
    cpu, wall, own = {k: [] for k in tools}, {k: [] for k in tools}, {k: [] for k in tools}
    for _ in range(REPEAT):
        for name, cmd in tools.items():
            w, c, r = timed(cmd)
            if r.returncode not in (0, 1):
                raise SystemExit(f"{name} failed: {r.stderr[-500:]}")
            cpu[name].append(frames / c)
            wall[name].append(frames / w)
            if name == "vigil":
                st = json.loads(r.stderr.strip().splitlines()[-1])
                assert st["frames"] == frames, st
                own[name].append(st["pps"])
            elif ndpi_rate(r.stdout):
                own[name].append(ndpi_rate(r.stdout))
    med = lambda d: {k: round(statistics.median(v)) if v else None for k, v in d.items()}
    c = med(cpu)
    return {
        "frames": frames, "frame_bytes": 64, "flows": frames // PKTS,
        "pps_per_cpu_second": c, "pps_wall": med(wall), "pps_self_reported": med(own),
        "ratio_vigil_to_ndpireader": round(c["vigil"] / c["ndpireader"], 3),
        "ratio_vigil_to_ndpireader_16": round(c["vigil"] / c["ndpireader_16"], 3),
        "target_pps_per_core": 1_000_000, "meets_target": c["vigil"] >= 1_000_000,
        "runs": REPEAT,
    }


def one_switch(kind, pcap, d):
    """One run through KIND; adds the server's CPU seconds to the result."""
    a, b = d / "a.sock", d / "b.sock"
    for p in (a, b):
        if p.exists():
            p.unlink()
    if kind == "relay":
        server = subprocess.Popen([str(HELPER), "relay", str(a), str(b)])
    else:
        extra = ["--no-inspect"] if kind == "plain" else []
        server = subprocess.Popen([str(VIGIL), "net", "switch", "--port", f"a={a}",
                                   "--port", f"b={b}", "--output", f"file:{d}/alerts.jsonl",
                                   *extra], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if a.exists() and b.exists():
                break
            time.sleep(0.02)
        r = subprocess.run([str(HELPER), "run", str(pcap), str(a), str(b), str(SWITCH_FRAMES)],
                           capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise SystemExit(f"bench_switch run failed: {r.stderr}")
        res = json.loads(r.stdout)
    finally:
        c = cpu_children()
        server.terminate()
        server.wait(30)
    res["server_cpu_seconds"] = cpu_children() - c
    return res


def switch(pcap):
    d = Path(tempfile.mkdtemp(prefix="vgbsw"))
    res = {"relay": [], "inspect": [], "plain": []}
    try:
        for _ in range(REPEAT):
            for kind in res:
                res[kind].append(one_switch(kind, pcap, d))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    med = {k: statistics.median(x["seconds"] for x in v) for k, v in res.items()}
    lost = {k: max(x["frames"] - x["received"] for x in v) for k, v in res.items()}
    cpu = {k: round(statistics.median(x["server_cpu_seconds"] for x in v), 3)
           for k, v in res.items()}
    return {
        "frames": SWITCH_FRAMES, "frame_bytes": 64,
        "relay_pps": round(SWITCH_FRAMES / med["relay"]),
        "switch_inspect_pps": round(SWITCH_FRAMES / med["inspect"]),
        "switch_plain_pps": round(SWITCH_FRAMES / med["plain"]),
        "time_ratio_inspect_to_relay": round(med["inspect"] / med["relay"], 3),
        "time_ratio_plain_to_relay": round(med["plain"] / med["relay"], 3),
        "target_time_ratio": 1.3, "meets_target": med["inspect"] / med["relay"] <= 1.3,
        "frames_lost_worst": lost, "server_cpu_seconds": cpu, "runs": REPEAT,
    }


def main():
    for tool in (VIGIL, HELPER):
        if not tool.exists():
            raise SystemExit(f"{tool} missing: build first (ninja -C build)")
    if not shutil.which("ndpiReader"):
        raise SystemExit("ndpiReader missing: apt-get install libndpi-bin")
    pcap = Path(tempfile.gettempdir()) / f"vigil-bench-net-{FRAMES}-{PKTS}.pcap"
    if not pcap.exists():
        make_pcap(str(pcap) + ".tmp", FRAMES)
        os.replace(str(pcap) + ".tmp", pcap)
    out = {"bench": "net", "cpus": os.cpu_count(), "capture": str(pcap),
           "engine": engine(pcap, FRAMES), "switch": switch(pcap)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
