"""The IDS fixtures (tests/e2e/attacks.py, tests/fixtures/rootkit) really work inside the test
guest, judged by the guest's own view, and undo() really restores. No vigil here: these tests
prove the fixtures, so a detector test that uses them cannot pass on an attack that never
happened. Rootkit loads need tests/fixtures/rootkit/build.sh (Debian's linux-headers for the
guest kernel via apt-get download, gcc-12)."""
import re
import time

import pytest

import attacks as A
from guest import Guest


@pytest.fixture(scope="module")
def g(guest):
    A.push_rootkit(guest)
    yield guest
    # A failed test must not leave the next one a loaded module.
    if A.rootkit_loaded(guest):
        A.unload_rootkit(guest)


def proc_pids(g):
    """Pids `ls /proc` lists (proc readdir)."""
    return {int(n) for n in g.run("ls /proc").split() if n.isdigit()}


def nice_of(g, pid):
    return int(g.run(f"cat /proc/{pid}/stat").rsplit(")", 1)[1].split()[16])


def enabled_functions(g):
    return g.run("cat /sys/kernel/debug/tracing/enabled_functions")


def kprobes_list(g):
    return g.run("cat /sys/kernel/debug/kprobes/list")


def rk_param(g, name):
    return g.run(f"cat /sys/module/{A.MODULE}/parameters/{name}").strip()


def test_rootkit_matches_guest_kernel(g):
    ko = A.build_rootkit()
    assert ko.parent.name == "rootkit-x86_64-" + g.run("uname -r").strip()
    # busybox modinfo wants modules.dep: read the .modinfo string in the guest instead.
    vermagic = g.run(f"strings {A.GUEST_KO} | grep '^vermagic='").strip()
    assert vermagic.split("=", 1)[1].split()[0] == g.run("uname -r").strip()
    assert not A.rootkit_loaded(g)


def test_hide_process(g):
    """The task leaves the task list: setpriority(PRIO_USER), which walks that list, no longer
    reaches it. /proc readdir walks the PID IDR, so `ls /proc` still lists it."""
    victim = A._spawn(g, "su -s /bin/sh -c 'exec sleep 4343' vigil")
    other = int(g.run("pidof httpd").split()[0])  # another uid-1000 process, not hidden
    try:
        time.sleep(0.3)
        g.run("renice 0 -u vigil")
        a = A.hide_process(g, victim)
        assert (a.pid, a.comm, a.uid, a.module) == (victim, "sleep", 1000, "vigil_rk")
        assert a.task > 0xffff800000000000
        assert A.rootkit_loaded(g)  # only the process is hidden here
        g.run("renice 7 -u vigil")
        assert nice_of(g, other) == 7
        assert nice_of(g, victim) == 0, "renice -u reached the hidden task"
        assert victim in proc_pids(g)  # readdir uses the IDR: documented limitation
        assert g.run(f"cat /proc/{victim}/comm").strip() == "sleep"
        a.undo()
        assert not A.rootkit_loaded(g)
        g.run("renice 3 -u vigil")
        assert nice_of(g, victim) == 3 and nice_of(g, other) == 3
    finally:
        g.run("renice 0 -u vigil; true")
        A._kill(g, victim)


def test_hidden_process_may_exit_while_hidden(g):
    """A hidden task that exits unhashes cleanly (self-linked node) and unload skips it."""
    a = A.hide_process(g)
    pid = a.pid
    A._kill(g, pid)
    time.sleep(0.3)
    assert pid not in proc_pids(g)
    a.undo()
    assert not A.rootkit_loaded(g)
    assert "list_del corruption" not in g.run("dmesg")
    assert g.run("echo alive").strip() == "alive"


def test_hide_module_off_list(g):
    a = A.hide_module(g, mode=1)
    try:
        assert a.module == "vigil_rk" and a.struct_module > 0xffff800000000000
        assert "vigil_rk" not in g.run("cat /proc/modules")
        assert "vigil_rk" not in g.run("lsmod")
        assert "[vigil_rk]" not in g.run("grep vigil_rk /proc/kallsyms; true")
        # The kobject stays: /sys/module/vigil_rk is the other view.
        assert rk_param(g, "hide_self") == "1"
        assert g.run_rc("rmmod vigil_rk")[0] != 0  # rmmod cannot find it
    finally:
        a.undo()
    assert not A.rootkit_loaded(g)
    assert g.run_rc(f"[ -e /sys/module/{A.MODULE} ]")[0] != 0


def test_hide_module_off_sysfs_too(guest_factory):
    """hide_self=2 also removes the kobject; irreversible, so a guest of its own."""
    g2 = guest_factory()
    a = A.hide_module(g2, mode=2)
    assert "vigil_rk" not in g2.run("cat /proc/modules")
    assert g2.run_rc(f"[ -e /sys/module/{A.MODULE} ]")[0] != 0
    assert "vigil_rk" not in g2.run("ls /sys/module")
    assert g2.run_rc("rmmod vigil_rk")[0] != 0
    with pytest.raises(A.AttackError):
        a.undo()
    assert g2.run("echo alive").strip() == "alive"


@pytest.mark.parametrize("symbol,trigger", [
    ("__x64_sys_kill", "kill -0 1"),
    ("tcp4_seq_show", "cat /proc/net/tcp >/dev/null"),
])
def test_ftrace_hook(g, symbol, trigger):
    assert A.MODULE not in enabled_functions(g)
    a = A.kernel_hook(g, "ftrace", symbol)
    try:
        assert a.address == A.ksym(g, symbol)
        line = [ln for ln in enabled_functions(g).splitlines() if ln.startswith(symbol + " ")]
        assert len(line) == 1 and "rk_ftrace_cb" in line[0] and "[vigil_rk]" in line[0], line
        before = int(rk_param(g, "hits"))
        g.run(trigger)
        assert int(rk_param(g, "hits")) > before
    finally:
        a.undo()
    assert A.MODULE not in enabled_functions(g)
    assert not enabled_functions(g).strip()


def test_kprobe_hook(g):
    a = A.kernel_hook(g, "kprobe", "tcp4_seq_show")
    try:
        addr = A.ksym(g, "tcp4_seq_show")
        assert a.address == addr
        assert re.search(rf"^{addr:016x}\s+k\s+tcp4_seq_show\+0x0", kprobes_list(g), re.M)
        before = int(rk_param(g, "hits"))
        g.run("cat /proc/net/tcp >/dev/null")
        assert int(rk_param(g, "hits")) > before
    finally:
        a.undo()
    assert "tcp4_seq_show" not in kprobes_list(g)


def test_syscall_table_overwrite(g):
    syms = g.ksyms("sys_call_table", "__x64_sys_kill", "x64_sys_call")
    slot = syms["sys_call_table"] + 8 * A.NR_KILL
    assert A.kpeek(g, slot) == [syms["__x64_sys_kill"]]
    a = A.syscall_table_hook(g)
    try:
        assert (a.table, a.nr, a.orig) == (syms["sys_call_table"], 62, syms["__x64_sys_kill"])
        assert A.kpeek(g, slot) == [a.value]  # the guest reads the new pointer
        assert a.value == A.ksym(g, "rk_sct_kill")  # the module's function, by kallsyms
        assert a.dispatcher and "x64_sys_call" in syms
        # 6.1.85+ dispatches through x64_sys_call: kill still works, the slot is dead.
        assert g.run("kill -0 1; echo ok").strip() == "ok"
        assert int(rk_param(g, "hits")) == 0
    finally:
        a.undo()
    assert A.kpeek(g, slot) == [syms["__x64_sys_kill"]]


# The shell's uid as the kernel has it: busybox's in-process `id` may answer a uid cached
# before the escalation (seen: 1000 while /proc/$$/status said 0).
ESCALATE = "su -s /bin/sh -c 'kill -64 $$; grep ^Uid: /proc/$$/status' vigil"


@pytest.mark.parametrize("kind", ["ftrace", "kprobe"])
def test_root_signal(g, kind):
    rc, out = g.run_rc(ESCALATE)  # control: signal 64 kills the shell without the rootkit
    assert rc == 128 + 64 and "Uid:" not in out, out
    a = A.kernel_hook(g, kind, "__x64_sys_kill", root_signal=True)
    try:
        assert g.run(ESCALATE).split() == ["Uid:", "0", "0", "0", "0"]
        assert g.run("su -s /bin/sh -c 'grep ^Uid: /proc/$$/status' vigil").split()[1] == "1000"
        assert g.run("kill -0 1; echo ok").strip() == "ok"  # other kills pass through
    finally:
        a.undo()
    rc, out = g.run_rc(ESCALATE)
    assert rc == 128 + 64, out


def test_privilege_escalation(g):
    a = A.privilege_escalation(g)
    try:
        st = {p: A.proc_status(g, p) for p in (a.parent_pid, a.pid, a.child_pid)}
        assert st[a.parent_pid]["Uid"].split() == ["1000"] * 4
        assert st[a.pid]["Uid"].split() == ["0"] * 4
        assert st[a.child_pid]["Uid"].split() == ["0"] * 4
        assert int(st[a.pid]["PPid"]) == a.parent_pid
        assert int(st[a.child_pid]["PPid"]) == a.pid
        assert st[a.child_pid]["Name"] == "sleep" and st[a.pid]["Name"] == "sh"
        assert g.run(f"readlink /proc/{a.pid}/exe").strip() == "/bin/busybox"  # not setuid
        assert a.symbol == "__x64_sys_kill"
    finally:
        a.undo()
    for p in (a.parent_pid, a.pid, a.child_pid):
        assert not A._alive(g, p)
    assert not A.rootkit_loaded(g)


def test_bind_shell(g):
    a = A.bind_shell(g)
    try:
        assert (a.port, a.family, a.comm) == (2001, "tcp6", "nc")
        assert re.search(r"^\s*\d+: 0{32}:07D1 0{32}:0000 0A ", g.run("cat /proc/net/tcp6"),
                         re.M)
        assert re.search(r"^tcp\s+0\s+0 :::2001\s+:::\*\s+LISTEN", g.run("netstat -ltn"), re.M)
        # busybox netstat has no -p: the owner is the process holding the socket's inode.
        inode = A.listening_inode(g, 2001)
        assert f"socket:[{inode}]" in g.run(f"ls -l /proc/{a.pid}/fd")
        out = g.run("echo 'id; exit' | timeout 20 nc 127.0.0.1 2001")
        assert "uid=0(root)" in out
        assert A._alive(g, a.pid)  # -ll: still serving after a client
    finally:
        a.undo()
    time.sleep(0.2)
    assert A.listening(g, 2001) is None


def test_deleted_tmp_binary(g):
    a = A.deleted_tmp_binary(g)
    try:
        assert g.run(f"readlink /proc/{a.pid}/exe").strip() == "/tmp/.dropper (deleted)"
        assert a.exe == "/tmp/.dropper" and a.comm == ".dropper"
        assert g.run_rc("[ -e /tmp/.dropper ]")[0] != 0
    finally:
        a.undo()
    time.sleep(0.2)
    assert not A._alive(g, a.pid)


def test_promisc(g):
    a = A.promisc(g)
    try:
        assert a.interface == "vg-dummy0"
        assert A.iface_flags(g, "vg-dummy0") & A.IFF_PROMISC
        # busybox ip names the flags it knows and appends the rest (IFF_PROMISC) in hex,
        # without a comma: "<BROADCAST,NOARP,UP,LOWER_UP100>".
        assert re.search(r"<[A-Z_,]*100>", g.run("ip link show vg-dummy0"))
    finally:
        a.undo()
    assert not A.iface_flags(g, "vg-dummy0") & A.IFF_PROMISC


def test_chkrootkit_inside_the_guest():
    """Debian's chkrootkit runs in the busybox guest (chkrootkit-guest.sh adds it and glibc);
    what it makes of the fixtures, for the comparison table in docs/checks.md. Observed on
    Debian 12 (chkrootkit 0.57, kernel 6.1.0-56): it misses all three below. The asserts keep
    that table honest: if chkrootkit starts catching one, this fails and the table changes."""
    with Guest("chkrootkit", image_dir=A.chkrootkit_image()) as g2:
        g2.wait_boot()
        _chkrootkit_verdicts(g2)


def _chkrootkit_verdicts(g2):
    tests = ("lkm", "bindshell", "scalper", "sniffer")
    clean, _ = A.run_chkrootkit(g2, *tests)
    assert clean["lkm"] == "finished" and clean["bindshell"] == "not found"
    assert clean["for hidden processes with chkproc"] == "not found"
    shell, prom = A.bind_shell(g2), A.promisc(g2)
    hidden = A.hide_process(g2)
    try:
        v, out = A.run_chkrootkit(g2, *tests)
    finally:
        hidden.undo()
        prom.undo()
        shell.undo()
    # busybox nc listens on :: (tcp6): scalper greps "0.0:2001 ", and 2001 is not in the
    # bindshell list.
    assert v["bindshell"] == "not found" and v["scalper"] == "not found", out
    # ifpromisc walks SIOCGIFCONF, which lists only interfaces with an IPv4 address.
    assert "vg-dummy0" not in out, out
    # chkproc compares ps with /proc readdir and kill(pid, 0): all still see the task.
    assert v["for hidden processes with chkproc"] == "not found", out
