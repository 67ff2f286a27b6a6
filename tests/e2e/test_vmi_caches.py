"""The per-build caches beside discovery's: decoded kallsyms and the BTF memo. Each is written
on first use, reused only for the same kernel build in guest memory, and never trusted over
guest memory (a damaged file is ignored)."""
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


def scan_findings(run_vigil, g, env):
    rc, out, err = run_vigil("ids", "scan", "-j", "--vm", g.mem_path, env=env)
    assert rc == 1, (rc, err)
    return sorted((a["check"], a["target"]["id"], json.dumps(a["evidence"], sort_keys=True))
                  for a in map(json.loads, out.splitlines()))


def test_btf_memo_answers_like_btf(guest, run_vigil, cache_env, tmp_path):
    """The second scan answers its layout questions from the memo; the findings, which read
    guest structures through those offsets, must be the same, and a damaged memo is ignored."""
    guest.run("ip link set vg-dummy0 promisc on")
    try:
        cold = scan_findings(run_vigil, guest, cache_env)
        memo = list((tmp_path / "vigil" / "discovery").glob("btfmemo-*"))
        assert len(memo) == 1 and memo[0].stat().st_size > 32 + 16 * 50
        assert scan_findings(run_vigil, guest, cache_env) == cold
        data = bytearray(memo[0].read_bytes())
        data[40] ^= 0x08  # the first answer's value
        memo[0].write_bytes(bytes(data))
        assert scan_findings(run_vigil, guest, cache_env) == cold
    finally:
        guest.run("ip link set vg-dummy0 promisc off")
    assert [c for c, _, _ in cold] == ["promisc-interface"]
