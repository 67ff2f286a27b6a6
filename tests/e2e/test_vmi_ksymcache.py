"""The decoded-kallsyms cache: written on first use, reused only for the same table in guest
memory, and never trusted over guest memory (a corrupted or foreign file is ignored)."""
import json
import os

import pytest

SYMS = ["init_task", "sys_call_table", "tcp_hashinfo", "x64_sys_call", "jiffies_64"]


def addrs(run_vigil, g, env):
    out = {}
    for s in SYMS:
        rc, o, err = run_vigil("vmi", "translate", "-j", "--vm", g.mem_path, s, env=env)
        assert rc == 0, err
        out[s] = json.loads(o)["virtual"]
    return out


@pytest.fixture
def cache_env(tmp_path):
    return dict(os.environ, XDG_CACHE_HOME=str(tmp_path))


def test_cache_written_and_equal_to_guest_memory(guest, run_vigil, cache_env, tmp_path):
    cold = addrs(run_vigil, guest, cache_env)
    files = list((tmp_path / "vigil" / "discovery").glob("ksyms-*"))
    assert len(files) == 1 and files[0].stat().st_size > 1 << 20
    assert addrs(run_vigil, guest, cache_env) == cold
    # the guest's own view agrees
    ks = guest.ksyms("init_task", "sys_call_table")
    assert cold["init_task"] == f"0x{ks['init_task']:016x}"


@pytest.mark.parametrize("damage", ["truncate", "flip-names", "flip-header"])
def test_damaged_cache_is_ignored(guest, run_vigil, cache_env, tmp_path, damage):
    cold = addrs(run_vigil, guest, cache_env)
    f = next((tmp_path / "vigil" / "discovery").glob("ksyms-*"))
    data = bytearray(f.read_bytes())
    if damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "flip-names":
        # rename sys_call_table in the cached names: trusted, the lookup below would fail
        i = data.index(b"\0sys_call_table\0") + 1
        data[i] ^= 0x20
    else:
        data[16] ^= 0xff  # the recorded _text
    f.write_bytes(bytes(data))
    assert addrs(run_vigil, guest, cache_env) == cold
