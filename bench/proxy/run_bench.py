#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Syscall proxy benchmark (issue 15, "Speed"), every figure from this one run.

Anchors: a 64-byte round trip over a Unix socket pair and one seccomp user-notification
round trip (the kernel's default wake-up, as the issue measured it; the synchronous wake-up
vigil asks for is reported beside it). Proxied: a 64-byte request/response over loopback TCP
and a 100 MB download (64 KiB reads), by the same client run bare and under
`vigil proxy run --mode fd|data`. Prints one JSON object with the ratios:
  rtt_ratio_<mode>   = proxied round trip / (unix round trip + notification round trip)
                       (target <= 1.5)
  tput_ratio_<mode>  = proxied throughput / unproxied throughput (target >= 0.5)
Usage: bench/proxy/run_bench.py [--quick]   (root: the proxy needs seccomp and namespaces)
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VIGIL_BUILD", REPO / "build"))
VIGIL = Path(os.environ.get("VIGIL_BIN", BUILD / "vigil"))
BENCH = BUILD / "bench" / "bench_proxy"
QUICK = "--quick" in sys.argv
N = 2000 if QUICK else 20000
BYTES = 100_000_000
PORT = 19000 + os.getpid() % 1000
REPEAT = 3


def run(*cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise SystemExit(f"{' '.join(map(str, cmd))}: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def client(mode, *args):
    cmd = [BENCH, *args]
    if mode:
        cmd = [VIGIL, "proxy", "run", "--mode", mode, "--", *cmd]
    return run(*cmd)


def best(f, key, lower=True):
    vals = [f()[key] for _ in range(REPEAT)]
    return min(vals) if lower else max(vals)


def main():
    srv = subprocess.Popen([BENCH, "server", str(PORT)], stdout=subprocess.PIPE, text=True)
    try:
        srv.stdout.readline()
        anchors = run(BENCH, "anchors", N)
        out = {"n": N, "bytes": BYTES, **anchors}
        anchor = anchors["unix_rtt_us"] + anchors["unotify_rtt_us"]
        out["anchor_rtt_us"] = round(anchor, 2)
        for mode in (None, "fd", "data"):
            name = mode or "bare"
            rtt = best(lambda: client(mode, "rtt", PORT, N), "rtt_us")
            tput = best(lambda: client(mode, "tput", PORT, BYTES), "mb_per_s", lower=False)
            out[f"rtt_us_{name}"] = rtt
            out[f"mb_per_s_{name}"] = tput
        for mode in ("fd", "data"):
            out[f"rtt_ratio_{mode}"] = round(out[f"rtt_us_{mode}"] / anchor, 3)
            out[f"tput_ratio_{mode}"] = round(out[f"mb_per_s_{mode}"] / out["mb_per_s_bare"], 3)
        out["targets"] = {"rtt_ratio": "<= 1.5", "tput_ratio": ">= 0.5"}
        print(json.dumps(out, indent=1))
    finally:
        srv.kill()
        srv.wait()


if __name__ == "__main__":
    main()
