#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sandbox throughput benchmark (issue 5, "Speed").

Runs N distinct copies of a small benign static ARM program (built here with
arm-linux-gnueabi-gcc; each copy differs by a trailing byte, so each is its own sample) as a
campaign in each environment with one worker per core, and reports samples per hour, the
per-sample overhead (a run's wall time minus the sample's own run time, from the results
database) beside the sample's own run time, and the ratio to two anchors measured in the same
session: the issue's targets (600/h container, 60/h system) and running the same sample
directly under qemu-arm-static, without any environment, with the same parallelism.

Usage: bench/sandbox/run_bench.py [--quick] [--envs container,minimal,system]
Needs root (namespaces, cgroups). The environments are prepared first (`vigil sandbox prepare`,
with network; not timed); every campaign runs under `unshare -n` (no uplink).
"""
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VIGIL = Path(os.environ.get("VIGIL_BIN", REPO / "build" / "vigil"))
QUICK = "--quick" in sys.argv
TARGETS = {"container": 600, "minimal": 600, "system": 60}
COUNTS = {"container": 12 if QUICK else 40, "minimal": 12 if QUICK else 40,
          "system": 4 if QUICK else 10}
WORKERS = os.cpu_count() or 1

PROGRAM = r"""
#include <stdio.h>
#include <unistd.h>
int main(void)
{
	unsigned long x = 1;
	for (int i = 0; i < 2000000; i++)
		x = x * 6364136223846793005ul + 1442695040888963407ul;
	printf("%lu\n", x);
	return 0;
}
"""


def envs_arg():
    for i, a in enumerate(sys.argv):
        if a == "--envs" and i + 1 < len(sys.argv):
            return sys.argv[i + 1].split(",")
    return ["container", "system"]


def build_samples(tmp, n):
    src = tmp / "bench.c"
    src.write_text(PROGRAM)
    base = tmp / "bench_base"
    subprocess.run(["arm-linux-gnueabi-gcc", "-O1", "-static", "-o", base, src], check=True)
    out = tmp / f"samples{n}-{len(list(tmp.iterdir()))}"
    out.mkdir()
    raw = base.read_bytes()
    for i in range(n):
        (out / f"s{i:04d}").write_bytes(raw + i.to_bytes(4, "little"))
        os.chmod(out / f"s{i:04d}", 0o755)
    return out


def direct(samples):
    """The anchor: each sample straight under qemu-arm-static, WORKERS at a time."""
    files = sorted(samples.iterdir())

    def one(f):
        t = time.monotonic()
        subprocess.run(["qemu-arm-static", f], check=True, capture_output=True, timeout=60)
        return (time.monotonic() - t) * 1000

    t0 = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as ex:
        ms = list(ex.map(one, files))
    wall = time.monotonic() - t0
    return {"samples": len(files), "wall_s": round(wall, 2),
            "samples_per_hour": round(len(files) * 3600 / wall),
            "mean_sample_ms": round(statistics.mean(ms), 1)}


def campaign(env, samples, tmp):
    db = tmp / f"{env}.db"
    t0 = time.monotonic()
    r = subprocess.run(["unshare", "-n", VIGIL, "sandbox", "run", "--env", env, "-J",
                        str(WORKERS), samples, "-o", db], capture_output=True, text=True,
                       timeout=3600)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["?"])[-1]}
    con = sqlite3.connect(db)
    rows = con.execute("SELECT duration_ms, wall_ms, verdict FROM runs WHERE env=?",
                       (env,)).fetchall()
    con.close()
    dur = [d for d, _, v in rows if d is not None]
    walls = [w for _, w, _ in rows]
    over = [w - d for d, w, _ in rows if d is not None]
    n = len(rows)
    return {"samples": n, "workers": WORKERS, "wall_s": round(wall, 2),
            "samples_per_hour": round(n * 3600 / wall),
            "verdicts": {v: sum(1 for *_, x in rows if x == v) for v in {x for *_, x in rows}},
            "mean_sample_ms": round(statistics.mean(dur), 1) if dur else None,
            "mean_run_wall_ms": round(statistics.mean(walls), 1),
            "mean_overhead_ms": round(statistics.mean(over), 1) if over else None,
            "median_overhead_ms": round(statistics.median(over), 1) if over else None}


def main():
    if not VIGIL.exists():
        sys.exit(f"vigil not found at {VIGIL}")
    tmp = Path(tempfile.mkdtemp(prefix="vigil-sbx-bench-"))
    out = {"bench": "sandbox", "cores": os.cpu_count(), "quick": QUICK}
    prep = subprocess.run([VIGIL, "sandbox", "prepare",
                           *[a for e in envs_arg() for a in ("--env", e)]],
                          capture_output=True, text=True, timeout=3600)
    if prep.returncode != 0:
        sys.exit(f"vigil sandbox prepare failed: {prep.stderr.strip()}")
    try:
        for env in envs_arg():
            samples = build_samples(tmp, COUNTS[env])
            anchor = direct(samples)
            res = campaign(env, samples, tmp)
            if "error" not in res:
                res["target_per_hour"] = TARGETS[env]
                res["ratio_to_target"] = round(res["samples_per_hour"] / TARGETS[env], 2)
                res["anchor_direct_qemu"] = anchor
                res["ratio_to_anchor_throughput"] = round(
                    res["samples_per_hour"] / anchor["samples_per_hour"], 3)
                res["ratio_to_anchor_per_sample"] = round(
                    res["mean_run_wall_ms"] / anchor["mean_sample_ms"], 2)
            out[env] = res
            print(json.dumps({env: res}), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
