#!/usr/bin/env python3
"""vigil disk's speed against its targets, measured side by side in one run; prints JSON.

    bench_disk.py [--mib N] [--runs N] [--keep DIR]

An ext4 image is generated (never committed): the "clean" fixture tree
(tests/fixtures/disk/build_image.py) plus N MiB of this host's own files laid out like a
small distribution root (libraries, programs, Python modules, /usr/share data; files over
8 MiB left out, as a VM or device root rarely has them), built with mkfs.ext4 -d. Then, with
the image in the page cache:
  vigil      'vigil disk scan IMAGE --baseline B': every check, BLAKE2b-256 of every file,
             the built-in YARA rules over every file, the diff against a baseline of the same
             image (B, taken first). Timed from spawn to exit, median of --runs.
  checks     'vigil disk scan IMAGE --no-yara': chkrootkit's job alone (its checks, which read
             only the files they judge), median of --runs.
  chkrootkit 'chkrootkit -q -r MNT' over the same tree loop-mounted read-only (Debian's
             package), median of --runs (its host-only tests skip themselves under -r).
Targets (issue 13): vigil >= 200 MB/s of file data, and >= 10x faster than chkrootkit -r.
Needs root (loop mount), mkfs.ext4, chkrootkit, build/vigil (or $VIGIL_BIN).
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "disk"))
import build_image  # noqa: E402

VIGIL = os.environ.get("VIGIL_BIN", str(REPO / "build" / "vigil"))
# (directory, share of the budget): a distribution root's proportions
SOURCES = [("/usr/lib/x86_64-linux-gnu", 0.4), ("/usr/bin", 0.2), ("/usr/sbin", 0.05),
           ("/usr/lib/python3", 0.15), ("/usr/share", 0.2)]
MAX_ONE = 8 << 20


def add_bulk(tree, budget):
    """Copies regular files from SOURCES into TREE (same paths), each its share of BUDGET."""
    total = files = 0
    for src, share in SOURCES:
        used, want = 0, budget * share
        for dirpath, dirs, names in os.walk(src):
            dirs.sort()
            for name in sorted(names):
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                size = os.path.getsize(path)
                if size > MAX_ONE or used + size > want:
                    continue
                dst = os.path.join(tree, path.lstrip("/"))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy2(path, dst)
                used += size
                files += 1
            if used >= want * 0.99:
                break
        total += used
    return total, files


def tree_bytes(tree):
    total = files = 0
    for dirpath, _, names in os.walk(tree):
        for name in names:
            p = os.path.join(dirpath, name)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
                files += 1
    return total, files


def timed(cmd, **kw):
    """(wall seconds, CPU seconds of the command and its children, result)"""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, r


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mib", type=int, default=256, help="MiB of host binaries to add")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--keep", help="build the image in this directory and keep it")
    a = p.parse_args()
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="vigil-bench-disk-"))
    work.mkdir(parents=True, exist_ok=True)
    img, base, mnt = work / "bench.img", work / "bench.baseline", work / "mnt"
    try:
        tree = work / "tree"
        if not img.exists():
            shutil.rmtree(tree, ignore_errors=True)
            tree.mkdir()
            build_image.make_tree(str(tree), "clean")
            add_bulk(str(tree), a.mib << 20)
            size_mib = int(tree_bytes(str(tree))[0] * 1.3 / (1 << 20)) + 64
            build_image.make_fs(str(tree), str(img), size_mib)
        data, files = tree_bytes(str(tree))
        # the image in the page cache for both tools
        subprocess.run(["cat", str(img)], stdout=subprocess.DEVNULL, check=True)
        if base.exists():
            base.unlink()
        subprocess.run([VIGIL, "disk", "baseline", str(img), "-o", str(base)], check=True,
                       stdout=subprocess.DEVNULL)
        vigil, vigil_cpu = [], []
        for _ in range(a.runs):
            secs, cpu, r = timed([VIGIL, "disk", "scan", str(img), "--baseline", str(base)])
            if r.returncode not in (0, 1):
                sys.exit(f"vigil disk scan failed: {r.stderr.decode()}")
            vigil.append(secs)
            vigil_cpu.append(cpu)
        checks, checks_cpu = [], []
        for _ in range(a.runs):
            secs, cpu, r = timed([VIGIL, "disk", "scan", str(img), "--no-yara"])
            if r.returncode not in (0, 1):
                sys.exit(f"vigil disk scan --no-yara failed: {r.stderr.decode()}")
            checks.append(secs)
            checks_cpu.append(cpu)
        mnt.mkdir(exist_ok=True)
        subprocess.run(["mount", "-o", "loop,ro", str(img), str(mnt)], check=True)
        try:
            subprocess.run(["find", str(mnt), "-type", "f", "-exec", "cat", "{}", "+"],
                           stdout=subprocess.DEVNULL, check=False)
            chk, chk_cpu = [], []
            for _ in range(a.runs):
                secs, cpu, _ = timed(["chkrootkit", "-q", "-r", str(mnt)])
                chk.append(secs)
                chk_cpu.append(cpu)
        finally:
            subprocess.run(["umount", str(mnt)], check=False)
        v, c = statistics.median(vigil), statistics.median(chk)
        vc, cc = statistics.median(vigil_cpu), statistics.median(chk_cpu)
        k, kc = statistics.median(checks), statistics.median(checks_cpu)
        print(json.dumps({
            "bench": "disk",
            "image_bytes": img.stat().st_size,
            "file_bytes": data,
            "files": files,
            "cpus": os.cpu_count(),
            "loadavg": os.getloadavg()[0],
            "vigil_scan_s": round(v, 3),
            "vigil_scan_runs_s": [round(x, 3) for x in vigil],
            "vigil_mb_per_s": round(data / 1e6 / v, 1),
            "vigil_cpu_s": round(vc, 3),
            "vigil_mb_per_cpu_s": round(data / 1e6 / vc, 1),
            "checks_only_s": round(k, 3),
            "checks_only_cpu_s": round(kc, 3),
            "chkrootkit_s": round(c, 3),
            "chkrootkit_runs_s": [round(x, 3) for x in chk],
            "chkrootkit_cpu_s": round(cc, 3),
            "ratio_chkrootkit_over_vigil": round(c / v, 2),
            "ratio_cpu": round(cc / vc, 2),
            "ratio_chkrootkit_over_checks_only": round(c / k, 1),
            "targets": {"vigil_mb_per_s": 200, "ratio_chkrootkit_over_vigil": 10},
            "met": {"vigil_mb_per_s": data / 1e6 / v >= 200, "ratio": c / v >= 10},
        }, indent=1))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
