"""Launch and drive the x86-64 test guest under QEMU (TCG), standard library only.

Contract: Guest(name, mem, kaslr, la57, smp, machine) starts qemu-system-x86_64 with the guest
RAM in a shared file /dev/shm/vigil-<name>-<pid> (what vigil reads), a QMP socket and the serial
console on a unix socket. run() executes one shell command line on the guest's console and
returns its output; stop() (also from __exit__, and a finalizer at garbage collection or exit) always ends QEMU and
removes the RAM file and sockets. The guest image comes from tests/fixtures/guest/build.sh.

Usable from pytest (tests/e2e/conftest.py) and from a demo script:

    from guest import Guest, build_guest
    with Guest("demo", image_dir=build_guest()) as g:
        g.wait_boot()
        print(g.run("uname -r"), g.mem_path)

QEMU 7.2 notes (Debian 12):
 - -m must equal the memory-backend size when -machine memory-backend= is used.
 - q35 keeps all RAM below 4 GiB up to 2.75 GiB (0xb0000000); from that size on, only
   2 GiB stay low and the rest starts at 4 GiB (see ram_layout()).
 - A file (not directory) mem-path is created by QEMU and never unlinked by it.
 - A socket chardev whose client stops reading stalls the guest's UART and with it printk;
   a reader thread therefore drains the console all the time.
 - TCG's "max" CPU offers LA57; "max,la57=off" gives a 4-level guest.
"""

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE_DIR = REPO / "tests" / "fixtures" / "guest"
BUILD_SH = FIXTURE_DIR / "build.sh"
PROMPT = b"vigil-guest# "
READY = b"vigil-init: ready"
SHM_PREFIX = "vigil-"

# The long-running processes /init starts (tests/fixtures/guest/init); comm is what the
# kernel keeps in task_struct.comm, args the full command line.
EXPECTED_PROCESSES = [
    {"comm": "sleep", "args": "sleep 7777", "uid": 0},
    {"comm": "httpd", "args": "httpd -f -p 80 -h /www -u vigil:vigil", "uid": 1000},
    {"comm": "vigil-worker", "args": "vigil-worker --mode test --id 42 --listen 4242", "uid": 0},
    {"comm": "vigil-worker", "args": "vigil-worker --mode user --id 7 --listen 4207", "uid": 1000},
]
# TCP ports the guest listens on (httpd and the two workers).
EXPECTED_LISTEN_PORTS = [80, 4242, 4207]
EXPECTED_MODULES = ["dummy", "veth"]
GUEST_USERS = {0: "root", 1000: "vigil"}
MAX_CMD_LEN = 900  # busybox ash reads at most 1023 bytes a line with echo off


class GuestError(RuntimeError):
    pass


class GuestTimeout(GuestError):
    pass


def build_guest(cache=None, timeout=900):
    """Run build.sh (cached, cheap when complete) and return the image directory."""
    env = dict(os.environ)
    if cache:
        env["VIGIL_CACHE"] = str(cache)
    r = subprocess.run(["bash", str(BUILD_SH)], env=env, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise GuestError(f"build.sh failed ({r.returncode}):\n{r.stderr[-4000:]}")
    return Path(r.stdout.strip().splitlines()[-1])


def read_system_map(image_dir, names=None):
    """{symbol: address} from the image's System.map, or None while it is Debian's
    placeholder (build.sh with VIGIL_GUEST_DBG=1 fetches the real one)."""
    res = {}
    with open(Path(image_dir) / "System.map") as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and (names is None or p[2] in names) and p[2] not in res:
                res[p[2]] = int(p[0], 16)
    return res or None  # the placeholder line has more than three fields


def parse_size(size):
    """'512M', '5G', '1024K' or bytes -> bytes."""
    if isinstance(size, int):
        return size
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)i?B?\s*", str(size), re.I)
    if not m:
        raise ValueError(f"bad memory size {size!r}")
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m.group(2).upper()]
    return int(m.group(1)) * mult


def q35_ram_layout(size):
    """[(guest_phys_addr, file_offset, length)] of RAM in QEMU 7.2's q35 machine."""
    low = size if size < 0xB0000000 else 0x80000000
    layout = [(0, 0, low)]
    if size > low:
        layout.append((1 << 32, low, size - low))
    return layout


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_shm():
    """Remove RAM files and temp dirs left by launcher processes that died (their QEMU died
    with them, see _set_pdeathsig). Both names end in the launcher's pid."""
    stale = [(p, re.fullmatch(re.escape(SHM_PREFIX) + r".+-(\d+)", p.name))
             for p in Path("/dev/shm").glob(SHM_PREFIX + "*")]
    stale += [(p, re.fullmatch(r"vigil-guest-.+-(\d+)-[^-]+", p.name))
              for p in Path(tempfile.gettempdir()).glob("vigil-guest-*")]
    for p, m in stale:
        if m and not _pid_alive(int(m.group(1))):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    p.unlink()
                except OSError:
                    pass


def _set_pdeathsig():
    # Runs in the child before exec: QEMU gets SIGKILL if the launching thread dies, so
    # even a killed pytest leaves no emulator behind.
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class QMP:
    """Minimal QMP client: one command at a time, events kept in .events."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise GuestError(f"unexpected QMP greeting {greeting}")
        self.command("qmp_capabilities")

    def _read(self):
        line = self.file.readline()
        if not line:
            raise GuestError("QMP connection closed")
        return json.loads(line)

    def command(self, name, timeout=None, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.settimeout(timeout or 60)
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            resp = self._read()
            if "event" in resp:
                self.events.append(resp)
                continue
            if "error" in resp:
                raise GuestError(f"QMP {name}: {resp['error']}")
            return resp.get("return")

    def close(self):
        for f in (self.file, self.sock):
            try:
                f.close()
            except OSError:
                pass


class Guest:
    def __init__(self, name="guest", mem="512M", kaslr=True, la57=False, smp=1,
                 machine="q35", image_dir=None, extra_append="", qemu="qemu-system-x86_64",
                 reboot=False, extra_args=()):
        if not re.fullmatch(r"[A-Za-z0-9_.]+", name):
            raise ValueError("guest name: letters, digits, '_' and '.' only")
        self.name = name
        self.mem = parse_size(mem)
        self.kaslr = kaslr
        self.la57 = la57
        self.smp = smp
        self.machine = machine
        self.image_dir = Path(image_dir) if image_dir else None
        self.extra_append = extra_append
        self.qemu = qemu
        self.reboot = reboot  # a reset reboots (default: QEMU exits, -no-reboot)
        # more QEMU arguments: NICs (-netdev/-device), disks (-drive); the modules their
        # drivers need are loaded with extra_append="vigil.load=e1000,virtio_blk,ext4"
        self.extra_args = list(extra_args)
        self.mem_path = f"/dev/shm/{SHM_PREFIX}{name}-{os.getpid()}"
        self.proc = None
        self.qmp_conn = None
        self.tmpdir = None
        self.boot_seconds = None
        self._ser = None
        self._out = bytearray()  # everything the console printed
        self._pos = 0  # run() consumes output from here on
        self._cond = threading.Condition()
        self._reader = None
        self._closed = False
        self._finalizer = None

    # ---- lifecycle -------------------------------------------------------------------

    def cmdline(self):
        img = self.image_dir
        append = "console=ttyS0 panic=-1"
        if not self.kaslr:
            append += " nokaslr"
        if self.extra_append:
            append += " " + self.extra_append
        mib = self.mem >> 20
        cpu = "max" if self.la57 else "max,la57=off"
        return [
            self.qemu, "-name", f"vigil-{self.name}",
            "-accel", "tcg",
            "-machine", f"{self.machine},memory-backend=ram0",
            "-cpu", cpu, "-smp", str(self.smp), "-m", f"{mib}M",
            "-object", f"memory-backend-file,id=ram0,size={mib}M,mem-path={self.mem_path},"
                       "share=on",
            "-kernel", str(img / "bzImage"), "-initrd", str(img / "initramfs.cpio.gz"),
            "-append", append,
            "-nodefaults", "-display", "none", *([] if self.reboot else ["-no-reboot"]),
            "-net", "none",
            "-chardev", f"socket,id=ser0,path={self.tmpdir}/serial.sock,server=on,wait=off",
            "-serial", "chardev:ser0",
            "-qmp", f"unix:{self.tmpdir}/qmp.sock,server=on,wait=off",
            *self.extra_args,
            # Paused until both sockets are connected, so no console output is lost.
            "-S",
        ]

    def _check_room(self):
        st = os.statvfs("/dev/shm")
        free = st.f_bavail * st.f_frsize
        if free < self.mem:
            raise GuestError(f"/dev/shm has {free >> 20} MiB free, guest needs {self.mem >> 20}")

    def start(self):
        if self.proc:
            raise GuestError("already started")
        if self.image_dir is None:
            self.image_dir = build_guest()
        if (self.mem >> 20) << 20 != self.mem:
            raise ValueError("memory size must be a whole number of MiB")
        sweep_stale_shm()
        self._check_room()
        if os.path.exists(self.mem_path):
            raise GuestError(f"{self.mem_path} exists: another guest named {self.name!r}?")
        self.tmpdir = tempfile.mkdtemp(prefix=f"vigil-guest-{self.name}-{os.getpid()}-")
        # Runs on garbage collection and at interpreter exit (weakref.finalize's atexit),
        # and holds no reference to self, so a forgotten Guest is still cleaned up.
        self._finalizer = weakref.finalize(self, Guest._cleanup, self._state())
        self._qemu_err = open(os.path.join(self.tmpdir, "qemu.stderr"), "w+b")
        self.proc = subprocess.Popen(self.cmdline(), stdin=subprocess.DEVNULL,
                                     stdout=self._qemu_err, stderr=self._qemu_err,
                                     preexec_fn=_set_pdeathsig)
        self._state_box["pid"] = self.proc.pid
        try:
            self._connect()
            self.t_start = time.monotonic()
            self.qmp("cont")
        except BaseException:
            self.stop()
            raise
        return self

    def _state(self):
        # What the finalizer needs, without a reference back to self.
        self._state_box = {"pid": None, "mem_path": self.mem_path, "tmpdir": self.tmpdir}
        return self._state_box

    @staticmethod
    def _cleanup(state):
        pid = state.get("pid")
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for p in (state.get("mem_path"),):
            try:
                os.unlink(p)
            except (OSError, TypeError):
                pass
        if state.get("tmpdir"):
            shutil.rmtree(state["tmpdir"], ignore_errors=True)

    def _connect(self, timeout=30):
        deadline = time.monotonic() + timeout
        ser_path = os.path.join(self.tmpdir, "serial.sock")
        qmp_path = os.path.join(self.tmpdir, "qmp.sock")
        while not (os.path.exists(ser_path) and os.path.exists(qmp_path)):
            if self.proc.poll() is not None:
                raise GuestError(f"QEMU exited ({self.proc.returncode}): {self.qemu_stderr()}")
            if time.monotonic() > deadline:
                raise GuestTimeout("QEMU sockets did not appear")
            time.sleep(0.05)
        self._ser = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._ser.connect(ser_path)
        self.qmp_conn = QMP(qmp_path)
        self._reader = threading.Thread(target=self._read_console, daemon=True,
                                        name=f"console-{self.name}")
        self._reader.start()

    def _read_console(self):
        sock = self._ser
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            with self._cond:
                if not data:
                    self._closed = True
                    self._cond.notify_all()
                    return
                self._out += data
                self._cond.notify_all()

    def qemu_stderr(self):
        try:
            self._qemu_err.seek(0)
            return self._qemu_err.read().decode(errors="replace")[-4000:]
        except (OSError, ValueError, AttributeError):
            return ""

    @property
    def console_output(self):
        with self._cond:
            return bytes(self._out).decode(errors="replace")

    def _wait_for(self, pattern, start, timeout):
        """Wait until bytes pattern (regex) appears in console output from start; -> match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        with self._cond:
            while True:
                m = rx.search(self._out, start)
                if m:
                    return m
                if self._closed or (self.proc and self.proc.poll() is not None):
                    raise GuestError(f"guest console closed (QEMU rc={self.proc.poll()}); "
                                     f"tail:\n{self._tail()}\n{self.qemu_stderr()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GuestTimeout(f"timeout waiting for {pattern!r}; tail:\n{self._tail()}")
                self._cond.wait(min(left, 1.0))

    def _tail(self, n=2000):
        return bytes(self._out[-n:]).decode(errors="replace")

    def wait_boot(self, timeout=600):
        """Wait for /init's ready line and a shell that answers; returns boot seconds."""
        m = self._wait_for(re.escape(READY), 0, timeout)
        self._wait_for(re.escape(PROMPT), m.end(), timeout)
        with self._cond:
            self._pos = len(self._out)
        self.run("true", timeout=timeout)
        self.boot_seconds = time.monotonic() - self.t_start
        return self.boot_seconds

    def stop(self, timeout=15):
        """End QEMU (QMP quit, then SIGKILL) and remove the RAM file, sockets, temp dir."""
        if self.proc and self.proc.poll() is None:
            try:
                if self.qmp_conn:
                    self.qmp_conn.command("quit", timeout=5)
            except (GuestError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.qmp_conn:
            self.qmp_conn.close()
        if self._ser:
            try:
                self._ser.close()
            except OSError:
                pass
        if self._reader:
            self._reader.join(5)
        if getattr(self, "_qemu_err", None):
            self._qemu_err.close()
        if self._finalizer:
            self._finalizer()  # removes the RAM file and temp dir; process already gone

    def __enter__(self):
        if not self.proc:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # ---- console ---------------------------------------------------------------------

    def run_rc(self, cmd, timeout=60):
        """Run one shell command line in the guest; -> (exit status, output without CRs)."""
        if "\n" in cmd or len(cmd) > MAX_CMD_LEN:
            raise ValueError("one command line of at most %d bytes" % MAX_CMD_LEN)
        tok = uuid.uuid4().hex[:16]
        # The markers are split by quotes in what is sent, so an echo of the line (if echo
        # were on) can never match them.
        line = (f'echo "@@B""{tok}"; {{ {cmd}\n}} </dev/null 2>&1; '
                f'echo "@@E""{tok} $?"\n')
        # The newline inside the braces keeps a trailing comment or '&' in cmd harmless.
        with self._cond:
            start = len(self._out)
        self._ser.sendall(line.encode())
        try:
            b = self._wait_for(rb"@@B" + tok.encode() + rb"\r?\n", start, timeout)
            e = self._wait_for(rb"@@E" + tok.encode() + rb" (\d+)\r?\n", b.end(), timeout)
        except GuestTimeout:
            self._ser.sendall(b"\x03")  # interrupt it so the next command has a shell
            raise
        with self._cond:
            out = bytes(self._out[b.end():e.start()])
            self._pos = e.end()
        return int(e.group(1)), out.replace(b"\r", b"").decode(errors="replace")

    def run(self, cmd, timeout=60, check=True):
        """Run a command line in the guest and return its output (stdout+stderr)."""
        rc, out = self.run_rc(cmd, timeout)
        if check and rc != 0:
            raise GuestError(f"guest command failed ({rc}): {cmd}\n{out}")
        return out

    def push_file(self, data, guest_path, mode=0o644, chunk=600):
        """Write bytes to a file in the guest over the console (base64, in chunks)."""
        if isinstance(data, (str, Path)) and os.path.exists(str(data)):
            data = Path(data).read_bytes()
        self.run(f": > {guest_path}.b64")
        for i in range(0, len(data), chunk):
            b64 = base64.b64encode(data[i:i + chunk]).decode()
            self.run(f"echo {b64} >> {guest_path}.b64")
        self.run(f"base64 -d {guest_path}.b64 > {guest_path} && rm {guest_path}.b64 && "
                 f"chmod {mode:o} {guest_path}")

    # ---- QMP, pause, dumps -----------------------------------------------------------

    def qmp(self, cmd, **args):
        timeout = args.pop("timeout", None)
        return self.qmp_conn.command(cmd, timeout=timeout, **args)

    def pause(self):
        self.qmp("stop")

    def resume(self):
        self.qmp("cont")

    def is_paused(self):
        return not self.qmp("query-status")["running"]

    def dump_elf(self, path, timeout=600, begin=None, length=None):
        """ELF core of guest RAM via QMP dump-guest-memory (paging off); waits for it.
        begin/length (guest physical) restrict it to one range (QEMU 7.2 allows that
        without paging too)."""
        path = os.path.abspath(path)
        args = {}
        if begin is not None:
            args = {"begin": begin, "length": length}
        self.qmp("dump-guest-memory", paging=False, protocol=f"file:{path}", detach=True,
                 **args)
        deadline = time.monotonic() + timeout
        while True:
            st = self.qmp("query-dump")
            if st["status"] == "completed":
                return path
            if st["status"] == "failed":
                raise GuestError("dump-guest-memory failed")
            if time.monotonic() > deadline:
                raise GuestTimeout("dump-guest-memory did not complete")
            time.sleep(0.1)

    def dump_raw(self, path):
        """Byte copy of the RAM file, taken while the guest is paused (resumed after if it ran)."""
        was_running = not self.is_paused()
        if was_running:
            self.pause()
        try:
            shutil.copyfile(self.mem_path, path)
        finally:
            if was_running:
                self.resume()
        return path

    def qemu_ram_map(self):
        """QEMU's own view of where ram0 sits: [(guest_phys_addr, offset, length)] merged
        from HMP 'info mtree -f' (a cross-check of ram_layout())."""
        txt = self.qmp("human-monitor-command", **{"command-line": "info mtree -f"})
        # FlatView numbering varies with the machine (smp, devices); pick the view whose
        # root is the system memory region rather than assuming it is #1.
        views = re.split(r"^FlatView #\d+", txt, flags=re.M)
        view = next((v for v in views if re.search(r"Root memory region: system\b", v)), "")
        spans = []
        rx = r"^\s*([0-9a-f]+)-([0-9a-f]+) \(prio \d+, (?:ram|rom)\): ram0(?: @([0-9a-f]+))?"
        for m in re.finditer(rx, view, re.M):
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            off = int(m.group(3), 16) if m.group(3) else 0
            if spans and spans[-1][0] + spans[-1][2] == start and \
                    spans[-1][1] + spans[-1][2] == off:
                spans[-1] = (spans[-1][0], spans[-1][1], spans[-1][2] + end - start + 1)
            else:
                spans.append((start, off, end - start + 1))
        return spans

    def ram_layout(self):
        """[(guest_phys_addr, offset in mem_path, length)] of the guest's RAM."""
        if self.machine != "q35":
            raise NotImplementedError("layout known for q35 only")
        return q35_ram_layout(self.mem)

    # ---- guest views (the guest's own word, to compare vigil against) ----------------

    def guest_ps(self):
        """Processes as the guest sees them: [{pid, ppid, uid, user, comm, args, state}]."""
        # /proc read in a loop rather than busybox ps: exact uids, comm with any characters,
        # and ppid/state from stat; only cmdline needs a fork (tr) per process.
        out = self.run(
            'for d in /proc/[0-9]*; do read -r s < $d/stat || continue; u=; '
            'while read -r k v r; do [ "$k" = Uid: ] && { u=$v; break; }; done < $d/status; '
            'a=$(tr "\\0" " " < $d/cmdline); echo "P|$u|$s|$a"; done', timeout=120)
        procs = []
        for line in out.splitlines():
            if not line.startswith("P|"):
                continue
            _, uid, rest = line.split("|", 2)
            lp, rp = rest.find("("), rest.rfind(")")
            if lp < 0 or rp < lp:
                continue
            pid = int(rest[:lp].strip())
            comm = rest[lp + 1:rp]
            fields, _, args = rest[rp + 2:].partition("|")
            f = fields.split()
            uid = int(uid) if uid.isdigit() else None
            procs.append({"pid": pid, "ppid": int(f[1]), "state": f[0], "uid": uid,
                          "user": GUEST_USERS.get(uid, str(uid)), "comm": comm,
                          "args": args.rstrip(" ")})
        return sorted(procs, key=lambda p: p["pid"])

    def guest_modules(self):
        """/proc/modules: [{name, size, refcount, deps, state, addr}] (addr is real: root,
        kptr_restrict=1)."""
        mods = []
        for line in self.run("cat /proc/modules").splitlines():
            f = line.split()
            if len(f) < 6:
                continue
            mods.append({"name": f[0], "size": int(f[1]), "refcount": int(f[2]),
                         "deps": [d for d in f[3].split(",") if d and d != "-"],
                         "state": f[4], "addr": int(f[5], 16)})
        return mods

    def ksyms(self, *names):
        """Addresses of kernel symbols from the guest's /proc/kallsyms: {name: addr}.
        Debian's /boot/System.map is a placeholder, so this is the symbol cross-check."""
        pat = "|".join(re.escape(n) for n in names)
        out = self.run(f"grep -E ' ({pat})$' /proc/kallsyms", check=False)
        res = {}
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 3 and f[2] in names and f[2] not in res:
                res[f[2]] = int(f[0], 16)
        return res

    def paging_levels(self):
        """4 or 5, as the running kernel uses them (see vigil-vaprobe.c)."""
        m = re.search(r"levels=(\d)", self.run("vigil-vaprobe"))
        if not m:
            raise GuestError("vigil-vaprobe gave no answer")
        return int(m.group(1))


BUILD_ARM64_SH = FIXTURE_DIR / "build-arm64.sh"
VIRT_RAM_BASE = 0x40000000  # QEMU's -M virt puts RAM here; raspi3b at 0
RASPI3B_RAM = 1 << 30  # raspi3b has exactly 1 GiB and 4 cores


def build_guest_arm64(cache=None, timeout=900):
    """Run build-arm64.sh (cached) and return the AArch64 image directory."""
    env = dict(os.environ)
    if cache:
        env["VIGIL_CACHE"] = str(cache)
    r = subprocess.run(["bash", str(BUILD_ARM64_SH)], env=env, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise GuestError(f"build-arm64.sh failed ({r.returncode}):\n{r.stderr[-4000:]}")
    return Path(r.stdout.strip().splitlines()[-1])


class Arm64Guest(Guest):
    """The AArch64 test guest (build-arm64.sh) under qemu-system-aarch64, same contract as
    Guest. machine "virt" (RAM at 0x40000000; cpu "cortex-a57", or "max" for pointer
    authentication and the other v8.x features) or "raspi3b" (1 GiB at physical 0, 4 cores,
    the kernel package's Raspberry Pi 3 B device tree). The console is the PL011 (ttyAMA0) on
    virt, the mini UART (ttyS1) on raspi3b."""

    def __init__(self, name="guest", mem="512M", kaslr=True, smp=1, machine="virt",
                 cpu="cortex-a57", image_dir=None, extra_append="", reboot=False,
                 extra_args=(), vmcoreinfo=False):
        if machine not in ("virt", "raspi3b"):
            raise ValueError("machine: virt or raspi3b")
        if machine == "raspi3b":
            mem, smp = RASPI3B_RAM, 4
        super().__init__(name, mem=mem, kaslr=kaslr, smp=smp, machine=machine,
                         image_dir=image_dir, extra_append=extra_append,
                         qemu="qemu-system-aarch64", reboot=reboot, extra_args=extra_args)
        self.cpu = cpu
        # QEMU's vmcoreinfo device (virt only, it needs fw_cfg): the guest's VMCOREINFO note
        # then goes into every dump_elf()
        self.vmcoreinfo = vmcoreinfo

    def start(self):
        if self.image_dir is None:
            self.image_dir = build_guest_arm64()
        return super().start()

    def cmdline(self):
        img = self.image_dir
        # on the Pi 3 the PL011 belongs to Bluetooth (serdev): its console is the mini UART,
        # QEMU's second serial port
        append = "console=ttyS1 panic=-1" if self.machine == "raspi3b" else \
            "console=ttyAMA0 panic=-1"
        if not self.kaslr:
            append += " nokaslr"
        if self.extra_append:
            append += " " + self.extra_append
        mib = self.mem >> 20
        if self.machine == "raspi3b":
            machine = ["-machine", "raspi3b,memory-backend=ram0",
                       "-dtb", str(img / "bcm2837-rpi-3-b.dtb")]
        else:
            machine = ["-machine", "virt,memory-backend=ram0", "-cpu", self.cpu,
                       "-smp", str(self.smp)]
            if self.vmcoreinfo:
                machine += ["-device", "vmcoreinfo"]
        return [
            self.qemu, "-name", f"vigil-{self.name}", "-accel", "tcg", *machine,
            "-m", f"{mib}M",
            "-object", f"memory-backend-file,id=ram0,size={mib}M,mem-path={self.mem_path},"
                       "share=on",
            "-kernel", str(img / "Image"), "-initrd", str(img / "initramfs.cpio.gz"),
            "-append", append,
            "-nodefaults", "-display", "none", *([] if self.reboot else ["-no-reboot"]),
            "-chardev", f"socket,id=ser0,path={self.tmpdir}/serial.sock,server=on,wait=off",
            *(["-serial", "null"] if self.machine == "raspi3b" else []),
            "-serial", "chardev:ser0",
            "-qmp", f"unix:{self.tmpdir}/qmp.sock,server=on,wait=off",
            *self.extra_args,
            "-S",
        ]

    def ram_layout(self):
        base = 0 if self.machine == "raspi3b" else VIRT_RAM_BASE
        return [(base, 0, self.mem)]


def main(argv=None):
    """Boot a guest and keep it up for manual work: python3 tests/e2e/guest.py --help"""
    import argparse
    ap = argparse.ArgumentParser(description="Boot the vigil x86-64 test guest under TCG and "
                                 "keep it running until Ctrl-C (or run commands and stop).")
    ap.add_argument("--name", default="manual")
    ap.add_argument("--mem", default="512M")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--nokaslr", action="store_true")
    ap.add_argument("--la57", action="store_true", help="5-level paging")
    ap.add_argument("--run", action="append", default=[], metavar="CMD",
                    help="run CMD in the guest and print its output (repeatable), then stop")
    a = ap.parse_args(argv)
    with Guest(a.name, mem=a.mem, kaslr=not a.nokaslr, la57=a.la57, smp=a.smp) as g:
        secs = g.wait_boot()
        print(f"booted in {secs:.1f}s; RAM file {g.mem_path}; QMP {g.tmpdir}/qmp.sock",
              flush=True)
        for cmd in a.run:
            rc, out = g.run_rc(cmd)
            print(out, end="")
            if rc:
                print(f"[exit {rc}]")
        if not a.run:
            try:
                while g.running:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
