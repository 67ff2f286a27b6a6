#!/usr/bin/env python3
"""The README's demo: boot the default test guest (512 MiB, KASLR on) and look inside it from
the host with vigil, while it runs. Everything vigil prints comes from guest RAM alone."""
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from guest import Guest, build_guest  # noqa: E402

VIGIL = REPO / "build" / "vigil"


def show(*args):
    cmd = [str(VIGIL), *args]
    print(f"\n$ vigil {' '.join(args)}", flush=True)
    t = time.monotonic()
    r = subprocess.run(cmd, text=True, capture_output=True, timeout=120)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    print(f"  ({(time.monotonic() - t) * 1000:.0f} ms, exit {r.returncode})", flush=True)
    return r


def main():
    print("Building the test guest (Debian's kernel + busybox initramfs; cached)...", flush=True)
    image = build_guest()
    with Guest("demo", image_dir=image) as g:
        secs = g.wait_boot(600)
        print(f"Guest booted under QEMU/TCG in {secs:.1f} s; its RAM is {g.mem_path}")
        print("The guest's own ps (over its serial console), for comparison:")
        print(g.run("ps -o pid,ppid,user,args | grep -v '\\['"))
        rc = 0
        for args in (["vmi", "info", "--vm", g.mem_path, "--no-cache"],
                     ["vmi", "ps", "--vm", g.mem_path],
                     ["vmi", "lsmod", "--vm", g.mem_path]):
            rc |= show(*args).returncode

        print("\n=== Intrusion detection from outside the guest ===", flush=True)
        if show("ids", "scan", "--vm", g.mem_path).returncode != 0:
            print("unexpected: the clean guest has findings")
            rc |= 1
        print("\nInside the guest, an intruder drops a binary in /tmp, runs it, deletes it,")
        print("and puts an interface into promiscuous mode to sniff:", flush=True)
        g.run("cp /bin/vigil-worker /tmp/.updater && (/tmp/.updater --mode bot --listen 2001 &)"
              " ; sleep 0.5; rm /tmp/.updater; ip link set vg-dummy0 promisc on")
        r = show("ids", "scan", "--vm", g.mem_path)
        if r.returncode != 1:
            print("unexpected: the infection was not detected")
            rc |= 1
        show("ids", "scan", "--vm", g.mem_path, "-j")
        print("\nCleaning up inside the guest; the findings resolve:", flush=True)
        g.run("killall .updater; ip link set vg-dummy0 promisc off; true")
        time.sleep(0.5)
        if show("ids", "scan", "--vm", g.mem_path).returncode != 0:
            print("unexpected: findings remain after the clean-up")
            rc |= 1
        print("\nShutting the guest down.", flush=True)
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
