#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Syscall attestation benchmark (issue 14, "Speed"). One run, every figure with its ratio to
the issue's target (anchor), as JSON on stdout:

  device cost   CPU time a traced program pays per syscall over its untraced run, for a
                getppid loop, a steady service loop and a real program (busybox tar of
                /usr/share/doc), under the vigil agent (eBPF), the agent's seccomp
                user-notification recorder and `strace -c -f`; the tracer's own CPU per
                syscall beside it (its fixed start-up, measured on /bin/true, taken off).
                CPU time (wait4's rusage), not wall time, because the machine is shared;
                each configuration REPS times, interleaved, median.
  bytes         events recorded vs bytes the agent wrote to the gateway's socket, for the
                steady loops (a live `vigil cfa serve` receives them)
  gateway       syscalls verified per CPU second: the engine alone (bench_sysverify) for the
                service (loops folded) and for busybox tar (little folding), and the whole
                gateway loop (decryption, session checks, engine, acknowledgements) with 1000
                simulated devices sending the service recording's one-second batches

Usage: bench/agent/run_bench.py [--quick]   (root; uses $VIGIL_BIN or build/vigil and the
bench tools next to it in bench/)
"""
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VIGIL = Path(os.environ.get("VIGIL_BIN", REPO / "build" / "vigil"))
BENCH = VIGIL.parent / "bench"
CPUWRAP, WORKLOAD = BENCH / "sys_cpuwrap", BENCH / "sys_workload"
LOADGEN, ENGINE = BENCH / "sys_loadgen", BENCH / "bench_sysverify"
QUICK = "--quick" in sys.argv
REPS = 3 if QUICK else 5
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
TARGET_NS = 300        # device cost per syscall over untraced
TARGET_EVENTS_PER_BYTE = 100
TARGET_GATEWAY = 1000 * 10_000  # syscalls per second on one core


def children_cpu_ns():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def cpuwrap_result(stderr):
    for line in reversed(stderr.splitlines()):
        if line.startswith('{"cpu_ns"'):
            return json.loads(line)
    raise RuntimeError(f"no cpuwrap line in: {stderr[-500:]}")


def last_json(text):
    line = text.strip().splitlines()[-1]
    return json.loads(line[line.index("{"):])


def run_config(cfg, work, tmp, gateway=None):
    """One run: (workload CPU ns, tracer CPU ns, syscalls or None, agent summary or None)."""
    rec = tmp / "b.rec"
    if rec.exists():
        rec.unlink()
    base = [str(CPUWRAP), *work]
    if cfg == "untraced":
        cmd = base
    elif cfg == "agent":
        cmd = [str(VIGIL), "agent", "run", "-q", "-j", "-o", str(rec)]
        if gateway:
            cmd += gateway
        cmd += ["--", *base]
    elif cfg == "seccomp":
        cmd = [str(VIGIL), "agent", "run", "--seccomp", "-q", "-j", "-o", str(rec), "--", *base]
    elif cfg == "strace":
        cmd = ["strace", "-c", "-f", "-o", "/dev/null", *base]
    before = children_cpu_ns()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    total = children_cpu_ns() - before
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{cmd}: exit {p.returncode}: {p.stderr[-500:]}")
    w = cpuwrap_result(p.stderr)
    summary = last_json(p.stdout) if cfg in ("agent", "seccomp") else None
    return w["cpu_ns"], max(total - w["cpu_ns"], 0), summary


STARTUP = {}


def startup_cpu(tmp):
    """The tracers' fixed CPU (loading and verifying the eBPF program, libbpf's BTF parsing,
    the batches of a trivial run), measured on /bin/true and taken off the per-syscall
    figures."""
    for c in ("agent", "seccomp", "strace"):
        if c == "strace" and not shutil.which("strace"):
            continue
        STARTUP[c] = statistics.median(run_config(c, ["/bin/true"], tmp)[1]
                                       for _ in range(REPS))
    return {f"{c}_startup_cpu_ms": round(v / 1e6, 1) for c, v in STARTUP.items()}


def bystander_cost(tmp):
    """What the rest of the device pays while the agent traces something else: the getppid
    loop untraced, with and without an agent attached to an idle process."""
    n = 500_000 if QUICK else 2_000_000
    work = [str(WORKLOAD), "getppid", str(n)]
    idle = subprocess.Popen(["sleep", "3600"])
    runs = {"alone": [], "beside_agent": []}
    try:
        for _ in range(REPS):
            runs["alone"].append(run_config("untraced", work, tmp)[0])
            agent = subprocess.Popen([str(VIGIL), "agent", "attach", "-q", "-o",
                                      str(tmp / "idle.rec"), str(idle.pid)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.5)  # loaded and attached
            runs["beside_agent"].append(run_config("untraced", work, tmp)[0])
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=60)
            (tmp / "idle.rec").unlink(missing_ok=True)
    finally:
        idle.kill()
    alone = statistics.median(runs["alone"]) / n
    beside = statistics.median(runs["beside_agent"]) / n
    return {"workload": "getppid loop, not traced", "ns_per_syscall_alone": round(alone, 1),
            "ns_per_syscall_beside_agent": round(beside, 1),
            "added_ns_per_syscall": round(beside - alone, 1)}


def device_cost(name, work, scale_seccomp, tmp):
    """Median CPU per configuration; per-syscall costs over the untraced run."""
    cfgs = ["untraced", "agent", "seccomp", "strace"] if shutil.which("strace") else \
        ["untraced", "agent", "seccomp"]
    runs = {c: [] for c in cfgs}
    syscalls = None
    for _ in range(REPS):
        for c in cfgs:
            wl = work
            if c == "seccomp" and scale_seccomp:
                wl = scale_seccomp  # the slow monitor gets fewer iterations (per-call cost)
            cpu, tracer, summ = run_config(c, wl, tmp)
            runs[c].append((cpu, tracer, summ))
            if c == "agent":
                syscalls = summ["syscalls"]
    med = {c: statistics.median(r[0] for r in runs[c]) for c in cfgs}
    base_per_call = med["untraced"] / syscalls
    out = {"workload": name, "syscalls": syscalls, "reps": REPS,
           "untraced_ns_per_syscall": round(base_per_call, 1)}
    for c in cfgs[1:]:
        n = syscalls
        if c == "seccomp" and scale_seccomp:
            n = statistics.median(r[2]["syscalls"] for r in runs[c])
            base = base_per_call * n
        else:
            base = med["untraced"]
        out[f"{c}_added_ns_per_syscall"] = round((med[c] - base) / n, 1)
        out[f"{c}_tracer_cpu_ns_per_syscall"] = round(
            (statistics.median(r[1] for r in runs[c]) - STARTUP.get(c, 0)) / n, 1)
    added = out["agent_added_ns_per_syscall"]
    out["agent_target_ns"] = TARGET_NS
    out["agent_ratio_to_target"] = round(added / TARGET_NS, 3)
    out["agent_total_ns_per_syscall_incl_agent_cpu"] = round(
        added + out["agent_tracer_cpu_ns_per_syscall"], 1)
    for c in ("seccomp", "strace"):
        if f"{c}_added_ns_per_syscall" in out and added > 0:
            out[f"{c}_vs_agent"] = round(out[f"{c}_added_ns_per_syscall"] / added, 1)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, tmp, registry, *extra):
        self.port = free_port()
        self.p = subprocess.Popen([str(VIGIL), "cfa", "serve", "--listen",
                                   f"127.0.0.1:{self.port}", "--key", str(tmp / "gw.key"),
                                   "--devices", str(registry), "--silent-after", "3600", "-j",
                                   "-q", "--alerts", f"file:{tmp / 'alerts.jsonl'}", *extra],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("cfa serve did not start")

    def stop(self, with_log=False):
        self.p.send_signal(signal.SIGTERM)
        out, err = self.p.communicate(timeout=300)
        if not with_log:
            return last_json(out)
        lines = [json.loads(x) for x in out.splitlines() if x.startswith('{"device":')]
        return last_json(out), lines


FRAME = 4 + 17  # a channel frame's length and secretstream overhead per message


def batch_sizes(rec):
    """The payload size of each batch in a recording."""
    data, sizes, off = rec.read_bytes(), [], 8
    while off + 4 <= len(data):
        n = int.from_bytes(data[off:off + 4], "little")
        sizes.append(n)
        off += 4 + n
    return sizes


def bytes_figures(tmp, model_for):
    """Steady loops sent live to a gateway: events recorded per byte on the wire, over the
    whole run (handshake and first definitions included) and in the steady state (the
    batches after the first two, each with its frame overhead)."""
    subprocess.run([str(VIGIL), "agent", "keygen", "-o", str(tmp / "dev.key")], check=True,
                   capture_output=True)
    out = []
    n = 500_000 if QUICK else 2_000_000
    for name, work in (("getppid", ["getppid", str(n)]), ("service", ["service", str(n // 8)])):
        reg = tmp / f"reg-{name}"
        rec = tmp / f"wire-{name}.rec"
        reg.write_text(f"bench {(tmp / 'dev.key.pub').read_text().strip()} "
                       f"{model_for(name)}\n")
        gw = Gateway(tmp, reg, "--batch-log")
        try:
            p = subprocess.run([str(VIGIL), "agent", "run", "-q", "-j", "--device", "bench",
                                "--gateway", f"127.0.0.1:{gw.port}", "--key",
                                str(tmp / "dev.key"), "--gateway-pub", str(tmp / "gw.key.pub"),
                                "-o", str(rec), "--", str(WORKLOAD), *work],
                               capture_output=True, text=True, timeout=1800)
        finally:
            stats, log = gw.stop(with_log=True)
        s = last_json(p.stdout)
        per_batch = {b["seq"]: b["syscalls"] for b in log if b.get("status") == "accepted"}
        sizes = batch_sizes(rec)
        steady = [(per_batch.get(i, 0), sizes[i] + FRAME) for i in range(2, len(sizes) - 1)]
        steady_sys = sum(a for a, _ in steady)
        steady_bytes = sum(b for _, b in steady)
        raw = s["syscalls"] * 152  # what the kernel hands over per unfolded syscall record
        out.append({"workload": name, "syscalls": s["syscalls"], "ring_records": s["ring_records"],
                    "batches": s["batches"], "wire_bytes": s["wire_bytes"],
                    "syscalls_per_wire_byte": round(s["syscalls"] / s["wire_bytes"], 1),
                    "ratio_to_target": round(s["syscalls"] / s["wire_bytes"] /
                                             TARGET_EVENTS_PER_BYTE, 2),
                    "raw_record_bytes_per_wire_byte": round(raw / s["wire_bytes"], 1),
                    "steady_batches": len(steady),
                    "steady_syscalls_per_byte": round(steady_sys / steady_bytes, 1)
                    if steady_bytes else None,
                    "steady_ratio_to_target": round(steady_sys / steady_bytes /
                                                    TARGET_EVENTS_PER_BYTE, 2)
                    if steady_bytes else None,
                    "gateway_verdicts": stats["verdicts"]})
    return out


def engine_figure(model, rec):
    return json.loads(subprocess.run([str(ENGINE), str(model), str(rec), "100"],
                                     capture_output=True, text=True, check=True).stdout)


def gateway_figures(tmp, model, rec, worst_model, worst_rec):
    engine = engine_figure(model, rec)
    worst = engine_figure(worst_model, worst_rec)
    reg = tmp / "reg-1000"
    devices = 1000
    subprocess.run([str(LOADGEN), "registry", "--devices", str(devices), "--model", str(model),
                    "-o", str(reg)], check=True)
    gw = Gateway(tmp, reg)
    try:
        p = subprocess.run([str(LOADGEN), "run", "--gateway", f"127.0.0.1:{gw.port}",
                            "--gateway-pub", str(tmp / "gw.key.pub"), "--devices",
                            str(devices), "--recording", str(rec), "--batches",
                            "5" if QUICK else "10"], capture_output=True, text=True,
                           timeout=1800)
        sent = last_json(p.stdout)
    finally:
        stats = gw.stop()
    rate = stats["syscalls"] / stats["loop_cpu_s"]
    return {
        "engine_alone": {**engine, "ratio_to_target": round(engine["syscalls_per_cpu_s"] /
                                                            TARGET_GATEWAY, 2)},
        "engine_alone_little_folding": {
            "recording": "busybox tar /usr/share/doc", **worst,
            "ratio_to_target": round(worst["syscalls_per_cpu_s"] / TARGET_GATEWAY, 2)},
        "gateway_loop": {"devices": devices, "batches": stats["batches"],
                         "syscalls": stats["syscalls"],
                         "syscalls_per_batch": round(stats["syscalls"] / stats["batches"]),
                         "verdicts": stats["verdicts"], "loop_cpu_s": round(stats["loop_cpu_s"], 3),
                         "verify_cpu_s": round(stats["verify_cpu_s"], 3),
                         "syscalls_per_loop_cpu_s": round(rate),
                         "target": TARGET_GATEWAY,
                         "ratio_to_target": round(rate / TARGET_GATEWAY, 2),
                         "acked": sent["acked"]},
    }


def main():
    if os.geteuid() != 0:
        sys.exit("run_bench.py: the eBPF agent needs root")
    tmp = Path(tempfile.mkdtemp(prefix="vigil-agent-bench-"))
    try:
        subprocess.run([str(VIGIL), "agent", "keygen", "-o", str(tmp / "gw.key")], check=True,
                       capture_output=True)
        models = {}

        def model_for(name):
            if name not in models:
                target = WORKLOAD if name in ("getppid", "service") else Path(BUSYBOX)
                models[name] = tmp / f"{name}.sysm"
                subprocess.run([str(VIGIL), "cfa", "model", "--syscalls", str(target), "-o",
                                str(models[name])], check=True, capture_output=True)
            return models[name]

        startup = startup_cpu(tmp)
        n = 500_000 if QUICK else 2_000_000
        svc = 20_000 if QUICK else 100_000
        cost = [
            device_cost("getppid loop", [str(WORKLOAD), "getppid", str(n)],
                        [str(WORKLOAD), "getppid", str(n // 40)], tmp),
            device_cost("service loop", [str(WORKLOAD), "service", str(svc)],
                        [str(WORKLOAD), "service", str(svc // 40)], tmp),
            device_cost("busybox tar /usr/share/doc",
                        [BUSYBOX, "tar", "-cf", "/dev/null", "/usr/share/doc"], None, tmp),
        ]
        cost.append(bystander_cost(tmp))
        wire = bytes_figures(tmp, model_for)
        # the service recording with one-second batches feeds the gateway figures
        rec = tmp / "service-1s.rec"
        subprocess.run([str(VIGIL), "agent", "run", "-q", "-o", str(rec), "--interval",
                        "1000:1000", "--", str(WORKLOAD), "service", str(svc)], check=True,
                       capture_output=True)
        tar = tmp / "tar.rec"
        subprocess.run([str(VIGIL), "agent", "run", "-q", "-o", str(tar), "--", BUSYBOX, "tar",
                        "-cf", "/dev/null", "/usr/share/doc"], check=True, capture_output=True)
        gw = gateway_figures(tmp, model_for("service"), rec, model_for("tar"), tar)
        print(json.dumps({"bench": "agent", "quick": QUICK, "tracer_startup": startup,
                          "device_cost": cost,
                          "bytes": wire, "gateway": gw}, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
