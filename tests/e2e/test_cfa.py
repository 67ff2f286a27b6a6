# SPDX-License-Identifier: MIT
"""End-to-end tests for control-flow attestation (issue 4).

Each attack fixture in tests/fixtures/cfa is built for real with gcc (-fsanitize-coverage=trace-pc)
and clang (-fsanitize-coverage=trace-pc-guard,pc-table), linked with libvigil-rt, trained on clean
inputs, run on different benign inputs (must be clean) and on a crafted exploit input (must be
flagged with the right check and evidence). Also: signed reports, offline vs live measurement,
hostile traces and models, function granularity and the full-ring policy.

The CLI is $VIGIL_BIN or <repo>/build/vigil; the runtime is $VIGIL_RT or libvigil-rt.a next to it.
"""
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VIGIL = Path(os.environ.get("VIGIL_BIN", REPO / "build" / "vigil"))
RT = Path(os.environ.get("VIGIL_RT", VIGIL.parent / "src" / "rt" / "libvigil-rt.a"))
FIX = REPO / "tests" / "fixtures" / "cfa"

COMMON = ["-O1", "-g", "-fno-stack-protector", "-no-pie", "-fcf-protection=none"]
FLAGS = {
    "gcc": ["gcc", *COMMON, "-fsanitize-coverage=trace-pc"],
    # clang would otherwise link its own sancov stubs (ubsan_standalone) ahead of libvigil-rt
    "clang": ["clang", *COMMON, "-fsanitize-coverage=trace-pc-guard,pc-table",
              "-fno-sanitize-link-runtime"],
    "gcc-func": ["gcc", *COMMON, "-finstrument-functions"],
}
# position-independent builds (events are offsets from the load base, so ASLR does not matter)
FLAGS["gcc-pie"] = [f for f in FLAGS["gcc"] if f != "-no-pie"] + ["-fPIE", "-pie"]
FLAGS["clang-pie"] = [f for f in FLAGS["clang"] if f != "-no-pie"] + ["-fPIE", "-pie"]

pytestmark = pytest.mark.skipif(not VIGIL.exists() or not RT.exists(),
                                reason=f"needs {VIGIL} and {RT} (run ninja first)")


def vigil(*args, check=None):
    p = subprocess.run([str(VIGIL), "cfa", *map(str, args)], capture_output=True, text=True,
                       timeout=120)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def alerts(out):
    return [json.loads(l) for l in out.splitlines() if l.startswith('{"ts"')]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("cfa")


_built = {}


def build(work, name, cc):
    key = (name, cc)
    if key not in _built:
        if not shutil.which(FLAGS[cc][0]):
            pytest.skip(f"{FLAGS[cc][0]} not installed")
        exe = work / f"{name}-{cc}"
        subprocess.run([*FLAGS[cc], "-I", str(FIX), str(FIX / f"{name}.c"), str(RT), "-o",
                        str(exe)], check=True)
        _built[key] = exe
    return _built[key]


def sym(exe, name):
    out = subprocess.run(["nm", str(exe)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise AssertionError(f"{name} not in {exe}")


def write(work, tag, data):
    p = work / tag
    p.write_bytes(data)
    return p


def train(work, exe, inputs, *extra):
    args = []
    for i, data in enumerate(inputs):
        inp = write(work, f"{exe.name}.train{i}", data)
        tr = work / f"{exe.name}.train{i}.tr"
        vigil("trace", "-o", tr, "--", exe, inp, check=0)
        args += ["--train", tr]
    model = work / f"{exe.name}.model"
    vigil("model", exe, "-o", model, *extra, *args, check=0)
    return model


def run(work, model, exe, data, tag, *extra):
    inp = write(work, f"{exe.name}.{tag}", data)
    return vigil("run", "--model", model, *extra, "--", exe, inp)


# --- the exploits -------------------------------------------------------------------------------

def ret_payload(exe):
    """Finds the return-address offset the way an attacker would: try until unlock() runs."""
    target = struct.pack("<Q", sym(exe, "unlock"))
    for off in range(16, 96, 8):
        data = b"A" * off + target
        p = subprocess.run([str(exe), str(write(exe.parent, exe.name + ".probe", data))],
                           capture_output=True, timeout=30)
        if b"UNLOCKED" in p.stdout:
            return data
    raise AssertionError("no working return-address offset")


CASES = {
    # name: (training inputs, benign inputs, attack builder, deny, expected check)
    "ret_overwrite": ([b"alice", b"PIN:0000", b"PIN:7391"], [b"bobby", b"PIN:1234"],
                      ret_payload, [], "cfa.cfg-violation"),
    "fptr_overwrite": ([b"hello", b"bworld"], [b"hzed", b"bqq"],
                       lambda exe: b"x" + b"A" * 16 + struct.pack("<Q", sym(exe, "maintenance")),
                       [], "cfa.cfg-violation"),
    "denied_call": ([b"si1\nsj2\ng1\ngj\nxx\n", b"g0\ns03\ng0\n"], [b"sk9\ng2\nzz\nsa1\n"],
                    lambda exe: b"g1\ndebug\n", ["--deny", "debug_shell"], "cfa.denied-flow"),
    "data_only": ([b"alice", b"bob"], [b"carol123", b"dave"],
                  lambda exe: b"A" * 16 + b"\x01\x00\x00\x00", [], "cfa.unseen-path"),
    "loop_count": ([b"\x03abc", b"\x08abcdefgh", b"\x01z"], [b"\x05qwert", b"\x07poiuytr"],
                   lambda exe: b"\xc8abc", [], "cfa.loop-anomaly"),
}


@pytest.mark.parametrize("cc,name", [(cc, n) for cc in ("gcc", "clang") for n in sorted(CASES)] +
                         [(cc, n) for cc in ("gcc-pie", "clang-pie")
                          for n in ("data_only", "denied_call", "loop_count")])
def test_attack_flagged_and_benign_clean(work, name, cc):
    tr_in, benign, attack, deny, expected = CASES[name]
    exe = build(work, name, cc)
    model = train(work, exe, tr_in, *deny)
    for i, data in enumerate(benign):
        p = run(work, model, exe, data, f"benign{i}")
        assert p.returncode == 0, f"benign input {data!r} flagged:\n{p.stdout}\n{p.stderr}"
        assert not alerts(p.stdout)
    p = run(work, model, exe, attack(exe), "attack")
    assert p.returncode == 1, p.stdout + p.stderr
    found = [a for a in alerts(p.stdout) if a["check"] == expected]
    assert found, f"no {expected} in:\n{p.stdout}"
    a = found[0]
    for k in ("ts", "host", "source", "target", "check", "severity", "summary", "evidence"):
        assert k in a
    assert a["source"] == "cfa" and a["target"]["kind"] == "process"
    ev = a["evidence"]
    assert ev["last_events"], "evidence must show the events before the finding"
    if expected == "cfa.cfg-violation":
        assert a["severity"] == "high"
        target = {"ret_overwrite": "unlock", "fptr_overwrite": "maintenance"}[name]
        assert ev["to"]["function"] == target
        assert "from" in ev
    elif expected == "cfa.denied-flow":
        assert ev["to"]["function"] == "debug_shell"
    elif expected == "cfa.unseen-path":
        assert a["severity"] == "medium"
        assert any(x["evidence"].get("function") in ("login", "grant")
                   for x in alerts(p.stdout) if x["check"] == expected)
    elif expected == "cfa.loop-anomaly":
        assert ev["function"] == "checksum"
        assert ev["iterations"] > ev["trained_max"]


def test_function_granularity(work):
    exe = build(work, "fptr_overwrite", "gcc-func")
    model = train(work, exe, [b"hello", b"bworld"])
    assert run(work, model, exe, b"hzed", "fb").returncode == 0
    p = run(work, model, exe, b"x" + b"A" * 16 + struct.pack("<Q", sym(exe, "maintenance")), "fa")
    assert p.returncode == 1
    assert any(a["check"] == "cfa.cfg-violation" and a["evidence"]["to"]["function"] ==
               "maintenance" for a in alerts(p.stdout)), p.stdout


@pytest.fixture(scope="module")
def keys(work):
    k = work / "key"
    vigil("keygen", "-o", k, check=0)
    assert (os.stat(k).st_mode & 0o777) == 0o600
    return k, Path(str(k) + ".pub")


def test_signed_report_verifies_and_any_change_breaks_it(work, keys):
    sk, pk = keys
    exe = build(work, "loop_count", "gcc")
    model = train(work, exe, CASES["loop_count"][0])
    rep = work / "report"
    p = run(work, model, exe, b"\x04abcd", "rep", "--key", sk, "--report", rep)
    assert p.returncode == 0, p.stderr
    vigil("check-report", "--pub", pk, rep, check=0)
    body = json.loads(rep.read_text().splitlines()[0])
    assert body["verdict"] == "clean" and body["loops"][0]["function"] == "checksum"
    raw = rep.read_bytes()
    bad = work / "report.bad"
    for i in range(len(raw)):
        for mask in (0x01, 0x20):  # 0x20 also turns hex digits upper-case
            bad.write_bytes(raw[:i] + bytes([raw[i] ^ mask]) + raw[i + 1:])
            assert vigil("check-report", "--pub", pk, bad).returncode == 1, f"byte {i}"
    bad.write_bytes(raw + b"x")
    assert vigil("check-report", "--pub", pk, bad).returncode == 1
    bad.write_bytes(raw[:-1])
    assert vigil("check-report", "--pub", pk, bad).returncode == 1
    other = work / "other"
    vigil("keygen", "-o", other, check=0)
    assert vigil("check-report", "--pub", str(other) + ".pub", rep).returncode == 1


@pytest.mark.parametrize("cc", ["gcc", "clang"])
@pytest.mark.parametrize("reduce", [True, False])
def test_offline_and_live_measurements_match(work, keys, cc, reduce):
    sk, _ = keys
    exe = build(work, "loop_count", cc)
    model = train(work, exe, CASES["loop_count"][0])
    inp = write(work, f"m-{cc}", b"\x06abcdef")
    tr = work / f"m-{cc}-{reduce}.tr"
    extra = [] if reduce else ["--no-reduce"]
    vigil("trace", "-o", tr, "--model", model, *extra, "--", exe, inp, check=0)
    off = json.loads(vigil("verify", "-j", "--key", sk, "--model", model, tr, check=0)
                     .stdout.splitlines()[-1])
    live = json.loads(vigil("run", "-j", "--key", sk, "--model", model, *extra, "--", exe, inp,
                            check=0).stdout.splitlines()[-1])
    assert off["streams"] == live["streams"]
    assert off["verdict"] == live["verdict"] == "clean"


def test_full_ring_blocks_instead_of_losing(work, keys):
    sk, _ = keys
    exe = build(work, "loop_count", "gcc")
    model = train(work, exe, CASES["loop_count"][0])
    inp = write(work, "ring", b"\xc8abc")
    big = json.loads(vigil("run", "-j", "--key", sk, "--model", model, "--", exe, inp)
                     .stdout.splitlines()[-1])
    small = vigil("run", "-j", "--key", sk, "--model", model, "--ring", "64", "--", exe, inp)
    assert "not recorded" not in small.stderr
    assert not [a for a in alerts(small.stdout) if a["check"] == "cfa.events-lost"]
    assert json.loads(small.stdout.splitlines()[-1])["streams"] == big["streams"]


# --- hostile traces and models ------------------------------------------------------------------

def batches(raw):
    hdr, off, out = raw[:64], 64, []
    while off < len(raw):
        magic, stream, count, flags, seq, lost = struct.unpack_from("<IIIIQQ", raw, off)
        out.append(raw[off:off + 32 + 4 * count])
        off += 32 + 4 * count
    return hdr, out


@pytest.fixture(scope="module")
def multi_batch(work):
    exe = build(work, "loop_count", "gcc")
    model = train(work, exe, CASES["loop_count"][0])
    tr = work / "multi.tr"
    vigil("trace", "-o", tr, "--ring", "64", "--", exe, write(work, "multi", b"\xc8abc"), check=0)
    hdr, bs = batches(tr.read_bytes())
    assert len(bs) >= 3, "a 64-event ring must produce several batches"
    return model, hdr, bs


@pytest.mark.parametrize("kind", ["truncated", "reordered", "replayed", "missing"])
def test_broken_traces_are_rejected_clearly(work, multi_batch, kind):
    model, hdr, bs = multi_batch
    if kind == "truncated":
        data = hdr + b"".join(bs)[:-6]
    elif kind == "reordered":
        data = hdr + bs[1] + bs[0] + b"".join(bs[2:])
    elif kind == "replayed":
        data = hdr + bs[0] + bs[1] + bs[1] + b"".join(bs[2:])
    else:
        data = hdr + bs[0] + b"".join(bs[2:])
    tr = write(work, f"bad-{kind}.tr", data)
    p = vigil("verify", "--model", model, tr)
    assert p.returncode == 2
    want = "truncated" if kind == "truncated" else "reordered, replayed or missing"
    assert want in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_forged_events_are_alerts(work, multi_batch):
    model, hdr, bs = multi_batch
    i = max(range(len(bs)), key=lambda k: len(bs[k]))  # batch sizes depend on drain timing
    b = bytearray(bs[i])
    assert len(b) >= 32 + 24
    struct.pack_into("<I", b, 32 + 8, 0x7ffffff0)       # outside the binary
    struct.pack_into("<I", b, 32 + 20, 0x00000010)      # inside, but no site
    tr = write(work, "forged.tr", hdr + b"".join(bs[:i]) + bytes(b) + b"".join(bs[i + 1:]))
    p = vigil("verify", "--model", model, tr)
    assert p.returncode == 1
    got = [a for a in alerts(p.stdout) if a["check"] == "cfa.unknown-event"]
    assert {a["evidence"]["to"]["event"] for a in got} >= {"0x7ffffff0", "0x10"}


def test_model_for_another_binary_is_refused(work, multi_batch):
    _, hdr, bs = multi_batch
    other = train(work, build(work, "data_only", "gcc"), [b"alice"])
    tr = write(work, "mine.tr", hdr + b"".join(bs))
    p = vigil("verify", "--model", other, tr)
    assert p.returncode == 2 and "different binary" in p.stderr
    p = vigil("run", "--model", other, "--", build(work, "loop_count", "gcc"), tr)
    assert p.returncode == 2 and "different binary" in p.stderr


def test_corrupt_model_is_refused(work, multi_batch):
    model, hdr, bs = multi_batch
    raw = bytearray(Path(model).read_bytes())
    tr = write(work, "ok.tr", hdr + b"".join(bs))
    for off in (0, 16, 80, 120, len(raw) // 2, len(raw) - 8):
        bad = bytearray(raw)
        bad[off] ^= 0xff
        m = write(work, "bad.model", bytes(bad))
        p = vigil("verify", "--model", m, tr)
        assert p.returncode in (0, 1, 2), p.stderr  # never a crash
    m = write(work, "short.model", bytes(raw[:100]))
    p = vigil("verify", "--model", m, tr)
    assert p.returncode == 2 and "invalid model" in p.stderr


def test_checkpoint_reports(work, keys):
    sk, pk = keys
    exe = build(work, "loop_count", "gcc")
    model = train(work, exe, CASES["loop_count"][0])
    rep = work / "cp-report"
    tr = work / "cp.tr"
    vigil("trace", "-o", tr, "--ring", "64", "--", exe, write(work, "cp", b"\xc8abc"), check=0)
    p = vigil("verify", "--model", model, "--key", sk, "--report", rep, "--checkpoint", "64", tr)
    assert p.returncode == 1  # the loop anomaly
    cps = sorted(work.glob("cp-report.*"), key=lambda x: int(x.suffix[1:]))
    assert len(cps) >= 2, "a 64-event ring gives several batches, hence checkpoints"
    seen = []
    for c in cps + [rep]:
        vigil("check-report", "--pub", pk, c, check=0)
        body = json.loads(c.read_text().splitlines()[0])
        seen.append(body["streams"][0]["events"])
    assert seen == sorted(seen) and body["verdict"] == "anomaly" and body["checkpoint"] == 0


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_threads_get_their_own_streams(work, keys, cc):
    sk, _ = keys
    exe = work / f"threads-{cc}"
    if not shutil.which(FLAGS[cc][0]):
        pytest.skip(f"{FLAGS[cc][0]} not installed")
    subprocess.run([*FLAGS[cc], str(FIX / "threads.c"), str(RT), "-pthread", "-o", str(exe)],
                   check=True)
    trs = []
    for i, arg in enumerate(["400", "1000"]):
        tr = work / f"threads-{cc}-{i}.tr"
        vigil("trace", "-o", tr, "--", exe, arg, check=0)
        trs += ["--train", tr]
    model = work / f"threads-{cc}.model"
    vigil("model", exe, "-o", model, *trs, check=0)
    p = vigil("run", "-j", "--key", sk, "--model", model, "--", exe, "700", check=0)
    res = json.loads(p.stdout.splitlines()[-1])
    assert res["verdict"] == "clean"
    assert len(res["streams"]) == 5, "main thread + 4 workers, one ring each"
    assert all(s["events"] > 0 for s in res["streams"])


@pytest.mark.parametrize("cc", ["gcc", "clang", "gcc-func"])
def test_events_of_a_killed_program_are_kept(work, cc):
    """The runtime publishes head once per chunk; a program killed mid-chunk (here: within its
    first chunk, so head is never published) must still leave its last events in the trace."""
    exe = build(work, "killed", cc)
    tr = work / f"killed-{cc}.tr"
    vigil("trace", "-o", tr, "--", exe)
    _, bs = batches(tr.read_bytes())
    ev = [x for b in bs for x in struct.unpack_from(f"<{(len(b) - 32) // 4}I", b, 32)]
    assert ev, "no event of the killed program reached the trace"
    out = subprocess.run(["nm", "-S", str(exe)], capture_output=True, text=True,
                         check=True).stdout
    lo = size = base = None
    for line in out.splitlines():
        p = line.split()
        if len(p) == 4 and p[3] == "doomed":
            lo, size = int(p[0], 16), int(p[1], 16)
        if len(p) == 3 and p[2] == "__executable_start":
            base = int(p[0], 16)
    last = ev[-1] & 0x3fffffff
    assert lo - base <= last < lo - base + size, f"last event {last:#x} is not in doomed()"


# --- defects found by a new user ---------------------------------------------------------------

def test_clang_build_without_no_sanitize_link_runtime_is_named(work):
    """clang without -fno-sanitize-link-runtime links its own sancov runtime, whose weak hooks
    replace libvigil-rt's: vigil says which flag is missing instead of 'did not attach'."""
    if not shutil.which("clang"):
        pytest.skip("clang not installed")
    exe = work / "loop_count-clang-rt"
    flags = [f for f in FLAGS["clang"] if f != "-fno-sanitize-link-runtime"]
    subprocess.run([*flags, "-I", str(FIX), str(FIX / "loop_count.c"), str(RT), "-o", str(exe)],
                   check=True)
    inp = write(work, "rt-in", b"\x02ab")
    tr = work / "rt.tr"
    for args in (["trace", "-o", tr, "--", exe, inp], ["model", exe, "-o", work / "rt.model"]):
        p = vigil(*args)
        assert p.returncode == 2
        assert "-fno-sanitize-link-runtime" in p.stderr, p.stderr
        assert "sanitizer-coverage runtime" in p.stderr, p.stderr
        assert p.stderr.count("\n") == 1 and "did not attach" not in p.stderr
    assert not tr.exists()
    # the same program built with the flag records fine
    good = build(work, "loop_count", "clang")
    vigil("trace", "-o", tr, "--", good, inp, check=0)


def test_keygen_never_leaves_a_key_world_readable(work, tmp_path):
    """An existing 0644 file at KEY is refused and left as it was; --force replaces it with a
    new 0600 file (never by writing into the old one), warning that the old one was readable."""
    k = tmp_path / "k"
    k.write_text("not a key yet\n")
    os.chmod(k, 0o644)
    p = vigil("keygen", "-o", k)
    assert p.returncode == 2 and "--force" in p.stderr, p.stderr
    assert "readable by others (mode 0644)" in p.stderr
    assert k.read_text() == "not a key yet\n" and (os.stat(k).st_mode & 0o777) == 0o644
    assert not Path(str(k) + ".pub").exists()
    p = vigil("keygen", "--force", "-o", k, check=0)
    assert "was readable by others (mode 0644)" in p.stderr
    assert (os.stat(k).st_mode & 0o777) == 0o600
    assert len(k.read_text().strip()) == 128
    # whatever the umask, a new key file is 0600 (O_EXCL + fchmod)
    fresh = tmp_path / "fresh"
    r = subprocess.run([str(VIGIL), "cfa", "keygen", "-o", str(fresh)], capture_output=True,
                       text=True, preexec_fn=lambda: os.umask(0))
    assert r.returncode == 0, r.stderr
    assert (os.stat(fresh).st_mode & 0o777) == 0o600
    # the replaced key signs reports that its public half verifies
    exe = build(work, "loop_count", "gcc")
    model = train(work, exe, CASES["loop_count"][0])
    rep = tmp_path / "report"
    assert run(work, model, exe, b"\x02ab", "kg", "--key", k, "--report", rep).returncode == 0
    vigil("check-report", "--pub", str(k) + ".pub", rep, check=0)
    assert vigil("keygen", "-o", tmp_path / "x", "extra").returncode == 2  # unknown argument
