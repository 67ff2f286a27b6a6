#!/usr/bin/env python3
"""Remote offload speed, printed as one JSON object (ratios to anchors measured in this run).

Figures:
  scan_local_ms / scan_remote_ms   one-shot `vigil ids scan` (no baseline) on the default guest
                  (512 MiB), from the RAM file and through `vigil broker` on loopback; caches
                  warm (discovery cache, the remote's remembered pages); medians of RUNS runs,
                  interleaved so a busy moment of the host weighs on both. scan_ratio is
                  remote/local (target: at most 2).
  wire            build/bench/bench_wire: the channel's throughput against libsodium's own
                  secretstream on this machine (ratio: target at most 2).
  ps_aux_exec_ms  `vigil vmi exec --vm FILE -- ps aux` as a whole (open the guest, serve the
                  /proc view, run Debian's ps) with the guest raised to PROCS processes (target:
                  at most 200 ms); ps_aux_exec_remote_ms the same through the broker;
                  ps_aux_host_ms, Debian's ps aux on this host's own /proc, is the anchor.
Environment: BENCH_RUNS (15), BENCH_PROCS (300).
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
from guest import Guest, build_guest  # noqa: E402

VIGIL = os.environ.get("VIGIL_BIN", str(REPO / "build" / "vigil"))
BENCH_WIRE = str(REPO / "build" / "bench" / "bench_wire")
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
PROCS = int(os.environ.get("BENCH_PROCS", "300"))


def timed(cmd, env=None):
    """Wall time of one run, posix_spawn to exit, output to /dev/null."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        t = time.perf_counter()
        pid = os.posix_spawn(cmd[0], cmd, env or os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, null, 1),
                                           (os.POSIX_SPAWN_DUP2, null, 2)])
        _, status = os.waitpid(pid, 0)
        dt = (time.perf_counter() - t) * 1000
    finally:
        os.close(null)
    rc = os.waitstatus_to_exitcode(status)
    if rc not in (0, 1):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        raise SystemExit(f"{cmd}: exit {rc}: {r.stderr.strip()}")
    return dt


def raise_processes(g, want):
    have = len(g.guest_ps())
    extra = max(0, want - have)
    # a few per command line: the console takes lines of at most 900 bytes
    for i in range(0, extra, 50):
        n = min(50, extra - i)
        g.run(f"for i in $(seq {n}); do sleep 100000 & done")
    return len(g.guest_ps())


def main():
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-broker-"))
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"))
    with Guest("benchbroker", image_dir=build_guest()) as g:
        g.wait_boot()
        pub = {}
        for name in ("broker", "client"):
            pub[name] = subprocess.run([VIGIL, "key", "gen", str(tmp / f"{name}.key")],
                                       capture_output=True, text=True,
                                       check=True).stdout.strip()
        port = 21000 + os.getpid() % 20000
        conf = tmp / "broker.conf"
        conf.write_text(f"[broker]\nlisten = 127.0.0.1:{port}\nkey = {tmp / 'broker.key'}\n"
                        f"[vm g]\nmemory = {g.mem_path}\nallow = {pub['client']}\n")
        log = open(tmp / "broker.log", "w")
        broker = subprocess.Popen([VIGIL, "broker", "run", "--config", str(conf)],
                                  stdout=log, stderr=log, start_new_session=True)
        try:
            while "listening on" not in (tmp / "broker.log").read_text():
                time.sleep(0.05)
            remote = (f"remote://127.0.0.1:{port}/g?key={tmp / 'client.key'}"
                      f"&pub={pub['broker']}")
            scan_l = [VIGIL, "ids", "scan", "--vm", g.mem_path]
            scan_r = [VIGIL, "ids", "scan", "--vm", remote]
            for cmd in (scan_l, scan_r, scan_r):
                timed(cmd, env)
            local, rem = [], []
            for _ in range(RUNS):
                local.append(timed(scan_l, env))
                rem.append(timed(scan_r, env))
            wire = json.loads(subprocess.run([BENCH_WIRE], capture_output=True, text=True,
                                             check=True).stdout)
            nprocs = raise_processes(g, PROCS)
            ps_l = [VIGIL, "vmi", "exec", "--vm", g.mem_path, "--", "ps", "aux"]
            ps_r = [VIGIL, "vmi", "exec", "--vm", remote, "--", "ps", "aux"]
            ps_h = ["/usr/bin/ps", "aux"]
            for cmd in (ps_l, ps_r, ps_r):
                timed(cmd, env)
            pl, pr, ph = [], [], []
            for _ in range(RUNS):
                pl.append(timed(ps_l, env))
                pr.append(timed(ps_r, env))
                ph.append(timed(ps_h, env))
        finally:
            os.killpg(broker.pid, 9)
            broker.wait()
            log.close()
    med = statistics.median
    out = {
        "runs": RUNS,
        "scan_local_ms": round(med(local), 1),
        "scan_remote_ms": round(med(rem), 1),
        "scan_ratio": round(med(rem) / med(local), 2),
        "scan_ratio_target": 2.0,
        "wire": wire,
        "guest_processes": nprocs,
        "ps_aux_exec_ms": round(med(pl), 1),
        "ps_aux_exec_remote_ms": round(med(pr), 1),
        "ps_aux_host_ms": round(med(ph), 1),
        "ps_aux_exec_ratio_to_host": round(med(pl) / med(ph), 2),
        "ps_aux_target_ms": 200,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
