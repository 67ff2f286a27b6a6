#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Syscall proxy benchmark (issue 15, "Speed"), every figure from this one run.

Anchors: a 64-byte round trip over a Unix socket pair and one seccomp user-notification
round trip (the kernel's default wake-up, as the issue measured it; the synchronous wake-up
vigil asks for is reported beside it). Proxied: a 64-byte request/response over loopback TCP
and a 100 MB download (64 KiB reads), by the same client run bare and under
`vigil proxy run --mode fd|data`. The machine may be shared, and other work slows any single
measurement by a random factor (a bare 100 MB download has varied from 135 to 2090 MB/s within
a minute on the 2-core development machine), so the figures are taken in rounds, the modes one
after the other: each round measures the anchors, the round trip bare, fd and data, then the
download bare, fd, data three times over. Each figure is its best over all rounds (lowest
time, highest throughput: the run least disturbed), and the ratios are of those:
  rtt_ratio_<mode>   = proxied round trip / (unix round trip + notification round trip)
                       (target <= 1.5)
  tput_ratio_<mode>  = proxied throughput / unproxied throughput (target >= 0.5)
<ratio>_median is the median over the rounds of the same ratio taken within each round: how
much the load moved it.
Usage: bench/proxy/run_bench.py [--quick]   (root: the proxy needs seccomp and namespaces)
"""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VIGIL_BUILD", REPO / "build"))
VIGIL = Path(os.environ.get("VIGIL_BIN", BUILD / "vigil"))
BENCH = BUILD / "bench" / "bench_proxy"
QUICK = "--quick" in sys.argv
N = 2000 if QUICK else 20000
BYTES = 100_000_000
PORT = 19000 + os.getpid() % 1000
ROUNDS = 3 if QUICK else 5
MODES = (None, "fd", "data")
TPUT_TRIES = 3


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


def main():
    srv = subprocess.Popen([BENCH, "server", str(PORT)], stdout=subprocess.PIPE, text=True)
    rounds = []
    try:
        srv.stdout.readline()
        for _ in range(ROUNDS):
            r = run(BENCH, "anchors", N)
            r["anchor_rtt_us"] = r["unix_rtt_us"] + r["unotify_rtt_us"]
            for mode in MODES:
                r[f"rtt_us_{mode or 'bare'}"] = client(mode, "rtt", PORT, N)["rtt_us"]
            for _ in range(TPUT_TRIES):
                for mode in MODES:
                    key = f"mb_per_s_{mode or 'bare'}"
                    mbs = client(mode, "tput", PORT, BYTES)["mb_per_s"]
                    r[key] = max(r.get(key, 0), mbs)
            rounds.append(r)
    finally:
        srv.kill()
        srv.wait()
    out = {"n": N, "bytes": BYTES, "rounds": ROUNDS}
    for k in rounds[0]:
        vals = [r[k] for r in rounds]
        out[k] = round(max(vals) if k.startswith("mb_per_s") else min(vals), 2)
    for mode in ("fd", "data"):
        rtt = [r[f"rtt_us_{mode}"] / r["anchor_rtt_us"] for r in rounds]
        tput = [r[f"mb_per_s_{mode}"] / r["mb_per_s_bare"] for r in rounds]
        out[f"rtt_ratio_{mode}"] = round(out[f"rtt_us_{mode}"] / out["anchor_rtt_us"], 3)
        out[f"rtt_ratio_{mode}_median"] = round(statistics.median(rtt), 3)
        out[f"tput_ratio_{mode}"] = round(out[f"mb_per_s_{mode}"] / out["mb_per_s_bare"], 3)
        out[f"tput_ratio_{mode}_median"] = round(statistics.median(tput), 3)
    out["targets"] = {"rtt_ratio": "<= 1.5", "tput_ratio": ">= 0.5"}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
