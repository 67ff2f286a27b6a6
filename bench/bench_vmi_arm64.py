#!/usr/bin/env python3
"""Introspection speed, AArch64 beside x86-64, printed as one JSON object.

Boots the default x86-64 test guest (512 MiB q35, KASLR) and the AArch64 one (512 MiB virt,
cortex-a57, KASLR), lets both settle, pauses them (a running TCG guest takes a CPU from the
measurement on a small machine, and a paused one's memory stands still) and measures:

  in_process  bench_discovery over both RAM files, the two measured in turn within each of RUNS
              runs: cold = open + discovery from scratch (no caches) + ps; warm = the same with
              the discovery caches written
  cli         `vigil vmi ps` as a process, wall clock: cold (--no-cache) and warm (cached);
              minus `vigil version`'s time for the in-process part of warm

The x86-64 figures are the anchor measured in the same run. Targets from the issue: AArch64
cold discovery + ps within 1.5x of x86-64's; warm ps in-process <= 5 ms.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from guest import Arm64Guest, Guest, build_guest, build_guest_arm64  # noqa: E402

VIGIL = os.environ.get("VIGIL_BIN", str(REPO / "build" / "vigil"))
BENCH = os.environ.get("BENCH_DISCOVERY", str(REPO / "build" / "bench" / "bench_discovery"))
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
SETTLE_S = 20  # both guests' boot-time work (module loads, udev-less init) is long over


def timed(cmd, env=None):
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = (time.perf_counter() - t) * 1000
    if r.returncode != 0:
        raise SystemExit(f"{cmd}: exit {r.returncode}: {r.stderr.strip()}")
    return dt, r.stdout


def cli(mems, env):
    """{arch: {cold, warm}} for `vigil vmi ps`, the architectures interleaved per run."""
    cold = {a: [] for a in mems}
    warm = {a: [] for a in mems}
    for a, mem in mems.items():
        timed([VIGIL, "vmi", "ps", "--vm", mem], env)  # writes the cache
    for _ in range(RUNS):
        for a, mem in mems.items():
            cold[a].append(timed([VIGIL, "vmi", "ps", "--vm", mem, "--no-cache"])[0])
            warm[a].append(timed([VIGIL, "vmi", "ps", "--vm", mem], env)[0])
    return {a: {"cli_cold_ps_ms": round(statistics.median(cold[a]), 2),
                "cli_warm_ps_ms": round(statistics.median(warm[a]), 2)} for a in mems}


def main():
    x86 = Guest(f"benchx{os.getpid()}", image_dir=build_guest())
    arm = Arm64Guest(f"bencha{os.getpid()}", image_dir=build_guest_arm64())
    with x86, arm:
        x86.wait_boot(600)
        arm.wait_boot(600)
        time.sleep(SETTLE_S)
        x86.pause()
        arm.pause()
        mems = {"x86_64": x86.mem_path, "arm64": arm.mem_path}
        info = {a: json.loads(timed([VIGIL, "vmi", "info", "-j", "--no-cache", "--vm", m])[1])
                for a, m in mems.items()}
        _, out = timed([BENCH, "--vm", mems["x86_64"], "--vm", mems["arm64"], "--runs",
                        str(RUNS)])
        inproc = json.loads(out)["sources"]
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, XDG_CACHE_HOME=cache)
            spawn = statistics.median(timed([VIGIL, "version"])[0] for _ in range(RUNS))
            proc = cli(mems, env)
    x, a = inproc
    res = {
        "bench": "vmi_discovery_ps_arm64_vs_x86_64",
        "runs": RUNS,
        "guests": {k: f"512M, KASLR, {info[k]['paging']}, Debian {info[k]['release']}, "
                      f"{info[k]['layout']} layout"
                   for k in mems},
        "x86_64": {"tasks": x["tasks"], "cold_discovery_ps_ms": x["cold_discovery_ps_ms"],
                   "warm_ps_ms": x["warm_ps_ms"], "ram_pass_ms": x["anchor_ram_pass_ms"],
                   **proc["x86_64"]},
        "arm64": {"tasks": a["tasks"], "cold_discovery_ps_ms": a["cold_discovery_ps_ms"],
                  "warm_ps_ms": a["warm_ps_ms"], "ram_pass_ms": a["anchor_ram_pass_ms"],
                  **proc["arm64"]},
        "anchor_spawn_ms": round(spawn, 2),
        "arm64_cold_over_x86_64_cold": a["cold_over_first"],
        "arm64_cli_cold_over_x86_64_cli_cold": round(
            proc["arm64"]["cli_cold_ps_ms"] / proc["x86_64"]["cli_cold_ps_ms"], 3),
        "arm64_warm_ps_in_process_ms": a["warm_ps_ms"],
        "arm64_cli_warm_minus_spawn_ms": round(max(proc["arm64"]["cli_warm_ps_ms"] - spawn, 0),
                                               2),
        "x86_64_cli_warm_minus_spawn_ms": round(
            max(proc["x86_64"]["cli_warm_ps_ms"] - spawn, 0), 2),
        "target_cold_ratio": 1.5,
        "target_warm_in_process_ms": 5,
        "pass_cold": a["cold_over_first"] <= 1.5,
        "pass_warm": a["warm_ps_ms"] <= 5,
    }
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
