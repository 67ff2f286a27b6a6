"""vigil disk on real ext4 images (tests/fixtures/disk/build_image.py: mkfs.ext4 -d from a
tree this module makes): a clean image gives no finding; an infected one gives exactly the
planted rootkit files, trojaned binary, preload hider, setuid change, wiped logins, inetd
backdoor, YARA matches and the inode no directory lists, whether raw, partitioned or qcow2;
a baseline of the clean image reports what the "changed" image changed; bad images give one
clear line and exit 2."""

import json
import os
import stat
import subprocess
import sys

import pytest

from guest import REPO

sys.path.insert(0, str(REPO / "tests" / "fixtures" / "disk"))
import build_image  # noqa: E402

# (check, target) every scan of the infected image must report, and nothing else
INFECTED = {
    ("rootkit-file", "/etc/ttyhash"),
    ("rootkit-file", "/usr/bin/xchk"),
    ("rootkit-file", "/usr/lib/.fx"),
    ("rootkit-file", "/tmp/.../a"),
    ("hidden-file", "/usr/lib/.fx"),
    ("hidden-file", "/tmp/..."),
    ("hidden-file", "/usr/share/.. "),
    ("trojaned-binary", "/bin/ls"),
    ("preload-hider", "/etc/ld.so.preload"),
    ("yara-match", "/lib/x86_64-linux-gnu/libvigilhide.so"),
    ("yara-match", "/root/.config/update.sh"),
    ("suid-file", "/bin/date"),
    ("rootkit-config", "/etc/inetd.conf"),
    ("log-tampering", "/var/log/wtmp"),
    ("log-tampering", "user"),
}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp(f"disk{os.getpid()}")
    clean = build_image.build("clean", str(d / "clean.img"))
    return {
        "dir": d,
        "clean": clean,
        "infected": build_image.build("infected", str(d / "infected.img")),
        "qcow2": build_image.build("infected", str(d / "infected-gpt.qcow2"), table="gpt",
                                   fmt="qcow2"),
        "mbr": build_image.build("clean", str(d / "clean-mbr.img"), table="mbr"),
        "changed": build_image.build("changed", str(d / "changed.img"), base=clean),
    }


def alerts(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def pairs(found):
    return {(a["check"], a["target"]["id"]) for a in found}


def test_clean_image_has_no_finding(images, run_vigil):
    rc, out, err = run_vigil("disk", "scan", images["clean"])
    assert rc == 0, err
    assert "(no findings)" in out
    rc, out, err = run_vigil("disk", "scan", images["mbr"], "-j")
    assert (rc, out) == (0, ""), err


def test_infected_image_gives_exactly_what_was_planted(images, run_vigil):
    rc, out, err = run_vigil("disk", "scan", images["infected"], "-j")
    assert rc == 1, err
    found = alerts(out)
    got = pairs(found)
    unreachable = [a for a in found if a["check"] == "unreachable-inode"]
    assert len(unreachable) == 1
    assert unreachable[0]["target"]["id"].startswith("<inode ")
    assert got - {("unreachable-inode", unreachable[0]["target"]["id"])} == INFECTED
    for a in found:
        assert a["source"] == "disk" and a["host"] == images["infected"]
        assert a["severity"] in ("low", "medium", "high", "critical")
        assert a["ts"].endswith("Z") and isinstance(a["evidence"], dict)
    by = {(a["check"], a["target"]["id"]): a for a in found}
    ls = by[("trojaned-binary", "/bin/ls")]
    assert ls["severity"] == "critical" and ls["attack"] == ["T1554"]
    assert ls["evidence"]["chkrootkit_test"] == "ls"
    hider = by[("yara-match", "/lib/x86_64-linux-gnu/libvigilhide.so")]
    assert hider["evidence"]["rule"] == "vigil_preload_rootkit"
    assert "T1574.006" in hider["attack"]
    preload = by[("preload-hider", "/etc/ld.so.preload")]
    assert preload["evidence"]["libraries"] == [
        {"path": "/lib/x86_64-linux-gnu/libvigilhide.so", "exists": True,
         "size": preload["evidence"]["libraries"][0]["size"],
         "inode": preload["evidence"]["libraries"][0]["inode"]}]
    assert by[("log-tampering", "user")]["evidence"]["chkrootkit_test"] == "z2"
    # the hidden inode's content is there to read
    rc, out, err = run_vigil("disk", "cat", images["infected"], unreachable[0]["target"]["id"])
    assert (rc, out) == (0, "exfiltrated: credit cards\n"), err


def test_qcow2_with_a_gpt_reads_the_same(images, run_vigil):
    rc, out, err = run_vigil("disk", "info", images["qcow2"], "-j")
    assert rc == 0, err
    info = json.loads(out)
    assert (info["format"], info["table"]) == ("qcow2", "gpt")
    assert [p["ext"] for p in info["partitions"]] == [False, True]
    rc, out, err = run_vigil("disk", "scan", images["qcow2"], "-j")
    assert rc == 1, err
    got = {p for p in pairs(alerts(out)) if p[0] != "unreachable-inode"}
    assert got == INFECTED


def test_check_selection_and_exclusion(images, run_vigil):
    rc, out, _ = run_vigil("disk", "scan", images["infected"], "-j", "--check", "rootkit-file",
                           "--exclude", "/tmp", "--no-yara")
    assert rc == 1
    assert pairs(alerts(out)) == {("rootkit-file", "/etc/ttyhash"),
                                  ("rootkit-file", "/usr/bin/xchk"),
                                  ("rootkit-file", "/usr/lib/.fx")}
    rc, _, err = run_vigil("disk", "scan", images["infected"], "--check", "no-such-check")
    assert rc == 2 and "unknown check 'no-such-check'" in err


def test_baseline_then_diff(images, run_vigil):
    base = images["dir"] / "clean.baseline"
    rc, out, err = run_vigil("disk", "baseline", images["clean"], "-o", base)
    assert rc == 0, err
    assert stat.S_IMODE(os.stat(base).st_mode) == 0o600
    rc, _, err = run_vigil("disk", "baseline", images["clean"], "-o", base)
    assert rc == 2 and "exists (not replaced)" in err
    rc, out, err = run_vigil("disk", "diff", base, images["clean"], "-j")
    assert (rc, out) == (0, ""), err
    rc, out, err = run_vigil("disk", "diff", base, images["changed"], "-j")
    assert rc == 1, err
    by = {(a["check"], a["target"]["id"]): a for a in alerts(out)}
    assert set(by) == {("file-changed", "/usr/bin/find"), ("file-changed", "/usr/bin/passwd"),
                       ("file-changed", "/etc/motd"), ("file-added", "/etc/cron.daily"),
                       ("file-added", "/etc/cron.daily/job"),
                       ("file-removed", "/home/user/notes.txt")}
    find = by[("file-changed", "/usr/bin/find")]
    assert find["severity"] == "critical" and find["evidence"]["gained"] == "setuid"
    passwd = by[("file-changed", "/usr/bin/passwd")]
    assert passwd["severity"] == "high" and passwd["evidence"]["same_mtime"] is True
    assert "content" in passwd["evidence"]["changed"].split(",")
    assert by[("file-added", "/etc/cron.daily/job")]["severity"] == "high"
    # scan --baseline adds the same to the checks
    rc, out, err = run_vigil("disk", "scan", images["changed"], "--baseline", base, "-j",
                             "--check", "file-changed")
    assert rc == 1, err
    assert {a["target"]["id"] for a in alerts(out)} == {"/usr/bin/find", "/usr/bin/passwd",
                                                         "/etc/motd"}
    # two baselines compare too
    later = images["dir"] / "changed.baseline"
    assert run_vigil("disk", "baseline", images["changed"], "-o", later)[0] == 0
    rc, out, _ = run_vigil("disk", "diff", base, later, "-j")
    assert rc == 1 and set(pairs(alerts(out))) == set(by)


def test_ls_lists_off_tree_entries(images, run_vigil):
    rc, out, err = run_vigil("disk", "ls", images["infected"], "-j")
    assert rc == 0, err
    entries = json.loads(out)
    by = {e["path"]: e for e in entries}
    assert by["/usr/bin/passwd"]["mode"] == "104755"
    assert by["/home/user"]["uid"] == 1000
    hidden = [e for e in entries if e.get("flags") == "unreachable"]
    assert len(hidden) == 1 and hidden[0]["size"] == len("exfiltrated: credit cards\n")
    rc, out, err = run_vigil("disk", "ls", images["infected"], "/etc")
    assert rc == 0 and "/etc/ld.so.preload" in out and "/bin/ls" not in out
    rc, out, err = run_vigil("disk", "cat", images["infected"], "/etc/ld.so.preload")
    assert (rc, out) == (0, "/lib/x86_64-linux-gnu/libvigilhide.so\n")


def test_yara_rules_from_a_directory(images, run_vigil, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "site.yar").write_text(
        'rule site_motd { meta: severity = "medium" strings: $a = "programs included with this" '
        "condition: $a }\n")
    rc, out, err = run_vigil("disk", "scan", images["clean"], "-j", "--rules", rules,
                             "--no-default-rules")
    assert rc == 1, err
    (a,) = alerts(out)
    assert (a["check"], a["target"]["id"], a["severity"]) == ("yara-match", "/etc/motd",
                                                               "medium")
    assert a["evidence"]["namespace"] == "site.yar"
    (rules / "broken.yar").write_text("rule broken {\n condition: $x }\n")
    rc, out, err = run_vigil("disk", "scan", images["clean"], "--rules", rules)
    assert rc == 2 and "broken.yar line 2" in err and err.count("\n") == 1


def corrupt(src, dst, offset, data):
    subprocess.run(["cp", src, dst], check=True)
    with open(dst, "r+b") as f:
        f.seek(offset)
        f.write(data)


def test_bad_images_fail_with_one_clear_line(images, run_vigil):
    d = images["dir"]
    cut = d / "cut.img"
    subprocess.run(["cp", images["clean"], cut], check=True)
    os.truncate(cut, 16 << 20)
    cases = [(cut, "truncated image")]
    bad_bs = d / "badbs.img"
    corrupt(images["clean"], bad_bs, 1024 + 24, (40).to_bytes(4, "little"))
    cases.append((bad_bs, "corrupt superblock"))
    junk = d / "junk.img"
    junk.write_bytes(os.urandom(1 << 20))
    cases.append((junk, "no ext2/3/4 file system found"))
    cases.append((d / "missing.img", "cannot open"))
    overlay = d / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", images["clean"], "-F", "raw",
                    overlay], check=True)
    cases.append((overlay, "pass --backing"))
    for path, msg in cases:
        rc, out, err = run_vigil("disk", "scan", path)
        assert rc == 2, (path, out, err)
        assert msg in err and err.count("\n") == 1, (path, err)
    # with --backing the overlay reads through to the clean image
    rc, out, err = run_vigil("disk", "scan", overlay, "--backing")
    assert rc == 0, err


def test_loops_and_huge_files_are_reported_not_followed(images, run_vigil, tmp_path):
    tree = tmp_path / "tree"
    (tree / "d" / "e").mkdir(parents=True)
    (tree / "d" / "e" / "f").write_text("x")
    with open(tree / "huge", "wb") as f:
        f.truncate(16 << 30)
    img = tmp_path / "odd.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", tree, img, "16M"], check=True,
                   capture_output=True)
    subprocess.run(["debugfs", "-w", "-R", "link /d /d/e/up", img], check=True,
                   capture_output=True)
    rc, out, err = run_vigil("disk", "scan", img, "-j", timeout=60)
    assert rc == 1, err
    by = {(a["check"], a["target"]["id"]): a for a in alerts(out)}
    loop = by[("fs-anomaly", "/d/e/up")]
    assert loop["severity"] == "high" and loop["evidence"]["kind"] == "loop"
    rc, out, err = run_vigil("disk", "ls", img, "/huge", "-j")
    assert rc == 0 and json.loads(out)[0]["size"] == 16 << 30
    rc, out, err = run_vigil("disk", "cat", img, "/huge")
    assert rc == 2 and "over --max-file" in err


def test_alerts_go_to_a_file_sink(images, run_vigil, tmp_path):
    sink = tmp_path / "alerts.jsonl"
    rc, out, err = run_vigil("disk", "scan", images["infected"], "--alert", f"file:{sink}")
    assert rc == 1, err
    lines = alerts(sink.read_text())
    assert {("trojaned-binary", "/bin/ls"), ("preload-hider", "/etc/ld.so.preload")} <= \
        pairs(lines)
    # the human table (header, one row per finding, then a summary) lists as many
    rows = out.split("\n\n")[0].splitlines()[1:]
    assert len(rows) == len(lines)
