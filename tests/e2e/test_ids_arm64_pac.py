"""Pointer authentication, for real: an AArch64 guest under `-cpu max` (ARMv8.3 PAC; Debian's
kernel has PTR_AUTH_KERNEL, so every return address it pushes on a stack is signed) runs a
rootkit that is off the module list, out of sysfs and has wiped the self-pointer a memory scan
finds a struct module by, while its kernel thread sleeps in the module's own code. Only the
thread's kernel stack still shows it, and only with the signatures stripped do the saved
return addresses read as addresses in module memory: vigil reports the hidden code with the
thread and the return address in the module's function.

One guest for the file (TCG emulating PAC is slow to boot: about a minute here).
"""

import json
import os

import pytest

import conftest
from attacks_arm64 import MODULE, hidden_running_code
from conftest import BOOT_TIMEOUT, _boot_times, _describe
from guest import Arm64Guest, build_guest_arm64


@pytest.fixture(scope="module")
def g(tmp_path_factory):
    guest = Arm64Guest(f"pac{os.getpid()}", cpu="max", image_dir=build_guest_arm64())
    guest.env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path_factory.mktemp("pac-cache")))
    try:
        guest.start()
        _boot_times.append((_describe(guest) + " virt -cpu max", guest.wait_boot(BOOT_TIMEOUT)))
        yield guest
    finally:
        guest.stop()


def scan(g):
    rc, out, err = conftest.run_vigil("ids", "scan", "-j", "--vm", g.mem_path, timeout=600,
                                      env=g.env)
    assert rc in (0, 1), err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_guest_signs_return_addresses(g):
    feats = g.run("grep -m1 Features /proc/cpuinfo").split()
    assert "paca" in feats and "pacg" in feats, feats
    assert scan(g) == []


def test_hidden_code_on_a_signed_stack(g):
    a = hidden_running_code(g)
    alerts = [x for x in scan(g) if x["check"] == "hidden-module"]
    assert len(alerts) == 1, alerts
    ev = alerts[0]["evidence"]
    assert ev["seen_in"] == ["kernel_stack"], ev
    assert (ev["pid"], ev["comm"]) == (a.pid, "vigil_rk_worker"), ev
    ret = int(ev["return_address"], 16)
    # stripped: a plain kernel address just past the call in the module's thread function
    assert ret >> 48 == 0xFFFF and 0 < ret - a.fn < 0x200, (hex(ret), hex(a.fn))
    assert alerts[0]["severity"] == "critical" and MODULE  # the module itself is unnamed here
