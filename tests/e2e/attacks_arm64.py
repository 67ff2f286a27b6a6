"""In-guest attack fixtures for the AArch64 test guest (guest.Arm64Guest), the arm64 side of
attacks.py: the same Attack contract (evidence as attributes, undo(), checked in the guest's
own view). The userland fixtures (bind_shell, deleted_tmp_binary, promisc) are attacks.py's
own; the rootkit ones load tests/fixtures/rootkit/vigil_rk_arm64.ko, cross-built against the
guest's exact arm64 headers (build-arm64.sh). One rootkit at a time; hide_module(mode=2)
cannot be undone (throw the guest away).

Plus patch_branch(): an offline fixture that rewrites a B/BL in a raw copy of guest RAM, for
the syscall-path check, since the arm64 rootkit does not patch text.
"""

import gzip
import hashlib
import re
import struct
import subprocess
import time
from pathlib import Path

from attacks import Attack, AttackError, _alive, _kill, _kmsg_mark, _kmsg_since, _spawn, \
    kpeek, proc_status
from guest import REPO

ROOTKIT_BUILD = REPO / "tests" / "fixtures" / "rootkit" / "build-arm64.sh"
MODULE = "vigil_rk_arm64"
GUEST_KO = "/root/vigil_rk_arm64.ko"
NR_KILL = 129  # arm64 (asm-generic)

_built = {}


def build_rootkit(timeout=900):
    """Run build-arm64.sh (cached) -> Path of vigil_rk_arm64.ko."""
    if "ko" not in _built:
        r = subprocess.run(["bash", str(ROOTKIT_BUILD)], capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise AttackError(f"build-arm64.sh failed ({r.returncode}):\n{r.stderr[-4000:]}")
        _built["ko"] = Path(r.stdout.strip().splitlines()[-1])
    return _built["ko"]


def push_rootkit(guest):
    data = build_rootkit().read_bytes()
    want = hashlib.sha256(data).hexdigest()
    rc, out = guest.run_rc(f"sha256sum {GUEST_KO} 2>/dev/null")
    if rc == 0 and out.split()[:1] == [want]:
        return
    guest.push_file(gzip.compress(data, 9), GUEST_KO + ".gz", mode=0o600)
    guest.run(f"gunzip -f {GUEST_KO}.gz")


def rootkit_loaded(guest):
    return any(m["name"] == MODULE for m in guest.guest_modules())


def load_rootkit(guest, **params):
    """insmod vigil_rk_arm64.ko with params -> dict: module, params, log, and from the
    module's log lines: hidden_pid, sys_call_table, sct_orig, sct_new, hidden_mode."""
    push_rootkit(guest)
    args = " ".join(f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in params.items())
    tag = _kmsg_mark(guest)
    rc, out = guest.run_rc(f"insmod {GUEST_KO} {args}")
    log = _kmsg_since(guest, tag)
    if rc != 0:
        raise AttackError(f"insmod {MODULE} {args} failed ({rc}): {out}\n{log}")
    info = {"module": MODULE, "params": dict(params), "log": log}
    m = re.search(rf"{MODULE}: hid pid (\d+) \((.*)\)", log)
    if m:
        info.update(hidden_pid=int(m.group(1)), hidden_comm=m.group(2))
    m = re.search(rf"{MODULE}: sys_call_table ([0-9a-f]+) \[(\d+)\] ([0-9a-f]+) -> ([0-9a-f]+)",
                  log)
    if m:
        info.update(sys_call_table=int(m.group(1), 16), sct_nr=int(m.group(2)),
                    sct_orig=int(m.group(3), 16), sct_new=int(m.group(4), 16))
    m = re.search(rf"{MODULE}: module hidden \(mode (\d)\)", log)
    if m:
        info.update(hidden_mode=int(m.group(1)))
    m = re.search(rf"{MODULE}: thread (\d+) runs rk_thread_fn ([0-9a-f]+)", log)
    if m:
        info.update(thread_pid=int(m.group(1)), thread_fn=int(m.group(2), 16))
    info["wiped"] = f"{MODULE}: struct module wiped" in log
    guest._vigil_rk = info
    return info


def unload_rootkit(guest):
    info = getattr(guest, "_vigil_rk", None)
    if info and info.get("hidden_mode") == 2:
        raise AttackError(f"{MODULE} was loaded with hide_self=2: throw the guest away")
    if info and info.get("hidden_mode") == 1:
        guest.run(f"echo 0 > /sys/module/{MODULE}/parameters/hide_self")
    rc, out = guest.run_rc(f"rmmod {MODULE}")
    if rc != 0 and rootkit_loaded(guest):
        raise AttackError(f"rmmod {MODULE} failed: {out}")
    guest._vigil_rk = None


def _unload_after(guest, extra=None):
    def undo():
        try:
            unload_rootkit(guest)
        finally:
            if extra:
                extra()
    return undo


def syscall_table_hook(guest, root_signal=False):
    """vigil_rk_arm64 overwrites sys_call_table[__NR_kill] (129), which arm64 really
    dispatches through. Evidence: module, table, nr, orig, value (rk_sct_kill)."""
    info = load_rootkit(guest, sct=1, root_signal=root_signal)
    if "sys_call_table" not in info:
        raise AttackError(f"{MODULE} did not report the overwrite: {info['log']}")
    slot = info["sys_call_table"] + 8 * info["sct_nr"]
    seen = kpeek(guest, slot)[0]
    if seen != info["sct_new"]:
        raise AttackError(f"sys_call_table[{info['sct_nr']}] reads {seen:#x} in the guest")
    return Attack("syscall-table", _unload_after(guest), module=MODULE,
                  table=info["sys_call_table"], nr=info["sct_nr"], orig=info["sct_orig"],
                  value=info["sct_new"])


def hide_module(guest, mode=1):
    info = load_rootkit(guest, hide_self=mode)
    if rootkit_loaded(guest) or info.get("hidden_mode") != mode:
        raise AttackError(f"{MODULE} still in /proc/modules after hide_self={mode}")
    return Attack("hide-module", _unload_after(guest), module=MODULE, mode=mode)


def hidden_running_code(guest):
    """The module leaves the list and sysfs (hide_self=2), wipes the self-pointer a memory scan
    finds a struct module by, and keeps a kernel thread sleeping in its own code: only a
    kernel stack still shows it. Cannot be undone. Evidence: pid (the thread), fn (the
    function it sleeps in)."""
    info = load_rootkit(guest, kthread=1, hide_self=2, wipe=1)
    if not info.get("wiped") or "thread_pid" not in info or rootkit_loaded(guest):
        raise AttackError(f"{MODULE} did not hide and wipe itself: {info['log']}")
    if guest.run_rc(f"[ -d /sys/module/{MODULE} ]")[0] == 0:
        raise AttackError(f"/sys/module/{MODULE} still there")
    return Attack("hidden-running-code", _unload_after(guest), module=MODULE,
                  pid=info["thread_pid"], fn=info["thread_fn"])


def hide_process(guest):
    """A fresh `sleep 4343` (uid 1000) unlinked from the task list; killed by undo()."""
    pid = _spawn(guest, "su -s /bin/sh -c 'exec sleep 4343' vigil")
    time.sleep(0.3)
    try:
        info = load_rootkit(guest, hide_pid=pid)
    except BaseException:
        _kill(guest, pid)
        raise
    if info.get("hidden_pid") != pid:
        _kill(guest, pid)
        raise AttackError(f"{MODULE} did not report hiding {pid}: {info['log']}")
    return Attack("hide-process", _unload_after(guest, lambda: _kill(guest, pid)), pid=pid,
                  comm="sleep", module=MODULE)


def kprobe_hook(guest, symbol="__arm64_sys_kill"):
    load_rootkit(guest, hook="kprobe", hook_sym=symbol)
    if not guest.run("grep -c . /sys/kernel/debug/kprobes/list 2>/dev/null || echo 0").strip():
        raise AttackError("no kprobe registered")
    return Attack("kprobe-hook", _unload_after(guest), module=MODULE, symbol=symbol)


def privilege_escalation(guest):
    """A uid-1000 shell sends kill -64 to itself: the hooked sys_call_table slot (root_signal)
    makes it root and it starts a root child (sleep 6464). Needs syscall_table_hook(guest,
    root_signal=True) loaded. Evidence: parent_pid (uid 1000), pid (now uid 0), child_pid."""
    guest.run("rm -f /tmp/.vg-esc.*")
    inner = ("kill -64 \\$\\$; echo \\$\\$ > /tmp/.vg-esc.pid; "
             "sleep 6464 & echo \\$! > /tmp/.vg-esc.child; wait")
    parent = _spawn(guest, f"su -s /bin/sh -c 'sh -c \"{inner}\"; sleep 6465' vigil")
    deadline = time.monotonic() + 30
    while guest.run_rc("[ -s /tmp/.vg-esc.child ]")[0] != 0:
        if time.monotonic() > deadline:
            _kill(guest, parent)
            raise AttackError("privilege escalation did not happen")
        time.sleep(0.2)
    pid = int(guest.run("cat /tmp/.vg-esc.pid"))
    child = int(guest.run("cat /tmp/.vg-esc.child"))
    ids = {p: int(proc_status(guest, p)["Uid"].split()[0]) for p in (parent, pid, child)}
    if ids != {parent: 1000, pid: 0, child: 0}:
        _kill(guest, child, pid, parent)
        raise AttackError(f"unexpected uids after kill -64: {ids}")
    return Attack("privilege-escalation", lambda: _kill(guest, child, pid, parent),
                  parent_pid=parent, pid=pid, child_pid=child)


def alive(guest, pid):
    return _alive(guest, pid)


def patch_branch(raw, phys, target_va, insn_va):
    """Rewrites the B or BL at physical PHYS of a raw RAM copy (its offset in the file is
    PHYS less the layout's base, given by the caller) so that it goes to TARGET_VA; the
    instruction's own address is INSN_VA. Returns the old word."""
    with open(raw, "r+b") as f:
        f.seek(phys)
        old, = struct.unpack("<I", f.read(4))
        if old >> 26 not in (0b000101, 0b100101):
            raise AttackError(f"not a b/bl at {insn_va:#x}: {old:#010x}")
        delta = (target_va - insn_va) >> 2
        if not -(1 << 25) <= delta < (1 << 25):
            raise AttackError("target out of a branch's reach")
        f.seek(phys)
        f.write(struct.pack("<I", (old & 0xFC000000) | (delta & 0x03FFFFFF)))
    return old
