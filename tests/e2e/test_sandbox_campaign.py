"""End-to-end tests of sandbox campaigns over the test corpus (tests/fixtures/samples).

Every vigil command here runs under `unshare -n`: in a fresh network namespace with no uplink,
so that a containment bug cannot leak a sample's traffic off the machine; the sinkhole's own
namespaces are created inside it. The corpus samples address only the sinkhole's range and
loopback.

Checked: each sample's row in each environment (research and finer verdicts, exit status,
behaviours, service impact), the CSV's columns, label classes and scores from VirusTotal-style
reports, the per-sample JSON reports and the chart, resumption after the campaign is killed
midway (finished runs are kept, unfinished ones redone, no worker survives), and the system
environment when it works here.
"""

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VIGIL = Path(os.environ.get("VIGIL_BIN", REPO / "build" / "vigil"))
BUILD = REPO / "tests" / "fixtures" / "samples" / "build.sh"
COLUMNS = ["sha256", "file_type", "machine", "linkage", "environment", "research_verdict",
           "exit_status", "finer_verdict", "class", "label_score", "behaviour_score",
           "behaviours", "service_impact", "duration_ms"]

# sample -> env -> (research verdict, finer verdict, exit status prefix, behaviours that must
# be present); "*" applies to every environment
EXPECT = {
    "bindshell": {"*": ("executable", "ran", "124", {"listen"})},
    "brute": {"*": ("executable", "ran", "0", {"brute-force"})},
    "daemon": {"*": ("executable", "ran", "124", {"fork"})},
    "dnscnc": {"*": ("executable", "ran", "0", {"dns-lookup", "c2"})},
    "dynhello": {"container": ("executable", "ran", "0", set()),
                 "minimal": ("not executable", "load-failed", "-", set())},
    "dynmissing": {"*": ("not executable", "load-failed", "-", set())},
    "encryptor": {"*": ("executable", "ran", "0", {"encrypt"})},
    "hostile": {"*": (None, None, None, {"escape-attempt", "exhaust-limits"})},
    "killer": {"container": ("executable", "ran", "0", {"kill", "service-stop"})},
    "loop": {"*": ("executable", "ran", "124", {"resource-hijack"})},
    "mips": {"*": ("not executable", "not-executable", "-", set())},
    "notelf.sh": {"*": ("not executable", "not-executable", "-", set())},
    "scanner": {"*": ("executable", "ran", "0", {"scan"})},
    "segv": {"*": ("not executable", "crashed", "signal 11", set())},
    "selfdel": {"*": ("executable", "ran", "0", {"self-delete", "rename"})},
}
# behaviours no quiet sample may show: a rule that fires everywhere tests nothing
QUIET = {"segv", "dynhello", "scanner"}


def vigil(*args, timeout=900, check=True):
    """vigil under `unshare -n` (no uplink); -> CompletedProcess."""
    if not VIGIL.exists():
        pytest.fail(f"vigil binary not found at {VIGIL}")
    r = subprocess.run(["unshare", "-n", str(VIGIL), *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        pytest.fail(f"vigil {' '.join(map(str, args))}: rc {r.returncode}: {r.stderr[-2000:]}")
    return r


def sha256(path):
    import hashlib
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def vt_report(*labels):
    scans = {f"Engine{i}": {"detected": True, "result": lab} for i, lab in enumerate(labels)}
    scans["Clean"] = {"detected": False, "result": None}
    return {"scans": scans}


@pytest.fixture(scope="module")
def corpus():
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root (namespaces, cgroups)")
    if not shutil.which("unshare"):
        pytest.fail("unshare (util-linux) missing")
    if not BUILD.exists():
        pytest.fail(f"{BUILD} missing")
    r = subprocess.run([str(BUILD)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"corpus build failed: {r.stderr[-2000:]}")
    return Path(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def labels(corpus, tmp_path_factory):
    d = tmp_path_factory.mktemp("labels")
    reports = {
        "scanner": vt_report("Linux.Mirai.B", "Backdoor.Linux.Mirai.ab", "DDoS.Linux.Satori",
                             "ELF/DDoS.Gen"),
        "encryptor": vt_report("Ransom.Linux.Erebus", "Trojan-Ransom.Linux.Filecoder.a",
                               "Trojan.Generic"),
        "loop": vt_report("Linux.CoinMiner.X", "Miner.Linux.Xmrig.b"),
    }
    for name, rep in reports.items():
        (d / f"{sha256(corpus / name)}.json").write_text(json.dumps(rep))
    (d / f"{sha256(corpus / 'segv')}.json").write_text("{not json")  # must not stop anything
    return d


@pytest.fixture(scope="module")
def campaign(corpus, labels, tmp_path_factory):
    d = tmp_path_factory.mktemp("campaign")
    db = d / "results.db"
    r = vigil("sandbox", "run", "--env", "container", "--env", "minimal", "--labels", labels,
              "--alerts", d / "alerts.jsonl", corpus, "-o", db, timeout=1800)
    assert "30 of 30 runs done" in r.stdout
    r = vigil("sandbox", "report", db, "--csv", d / "results.csv", "--json-dir", d / "json",
              "--chart", d / "chart.png", "-j")
    summary = json.loads(r.stdout)
    assert summary["runs_done"] == 30 and summary["json_files"] == 15
    with open(d / "results.csv", newline="") as f:
        rows = list(csv.reader(f))
    return {"dir": d, "db": db, "header": rows[0], "rows": rows[1:],
            "names": {sha256(p): p.name for p in corpus.iterdir() if p.is_file()}}


def by_name(c):
    out = {}
    for row in c["rows"]:
        rec = dict(zip(COLUMNS, row))
        out[(c["names"][rec["sha256"]], rec["environment"])] = rec
    return out


def test_csv_columns_and_rows(campaign):
    assert campaign["header"] == COLUMNS
    assert len(campaign["rows"]) == 30  # 15 samples x 2 environments
    assert all(len(r) == len(COLUMNS) for r in campaign["rows"])


@pytest.mark.parametrize("env", ["container", "minimal"])
def test_each_sample_row(campaign, env):
    rows = by_name(campaign)
    failures = []
    for name, per_env in EXPECT.items():
        want = per_env.get(env, per_env.get("*"))
        rec = rows[(name, env)]
        if want is None:
            continue
        research, finer, exit_prefix, bhv = want
        got_bhv = set(filter(None, rec["behaviours"].split(";")))
        if research and rec["research_verdict"] != research:
            failures.append(f"{name}: research {rec['research_verdict']!r}, want {research!r}")
        if finer and not rec["finer_verdict"].startswith(finer + ":"):
            failures.append(f"{name}: finer {rec['finer_verdict']!r}, want {finer}")
        if exit_prefix and not rec["exit_status"].startswith(exit_prefix):
            failures.append(f"{name}: exit {rec['exit_status']!r}, want {exit_prefix}")
        if not bhv <= got_bhv:
            failures.append(f"{name}: behaviours {sorted(got_bhv)}, missing {sorted(bhv - got_bhv)}")
    assert not failures, "\n".join(failures)


def test_identification_columns_and_reasons(campaign):
    rows = by_name(campaign)
    for env in ("container", "minimal"):
        assert rows[("mips", env)]["machine"] == "MIPS"
        assert "wrong architecture" in rows[("mips", env)]["finer_verdict"]
        assert rows[("notelf.sh", env)]["file_type"] == "script"
        assert rows[("notelf.sh", env)]["linkage"] == "-"
        assert "not an ELF" in rows[("notelf.sh", env)]["finer_verdict"]
        assert rows[("dynmissing", env)]["linkage"] == "dynamic"
        assert "missing loader: /lib/ld-missing.so.3" in rows[("dynmissing", env)]["finer_verdict"]
        assert rows[("scanner", env)]["linkage"] == "static"
        assert rows[("scanner", env)]["machine"] == "ARM"
        # not run: no behaviour score, no duration
        assert rows[("mips", env)]["behaviour_score"] == ""
        assert rows[("mips", env)]["duration_ms"] == ""
        # ran: the sample's own time, under the timeout plus the kill
        assert 0 <= int(rows[("loop", env)]["duration_ms"]) < 20000


def test_behaviour_scores_are_weighted_sums(campaign):
    rows = by_name(campaign)
    weights = {"scan": 15, "brute-force": 20, "c2": 15, "dns-lookup": 5, "encrypt": 30,
               "self-delete": 15, "rename": 10, "listen": 20, "resource-hijack": 10,
               "fork": 2, "kill": 10, "service-stop": 25}
    for (name, env), rec in rows.items():
        bhv = list(filter(None, rec["behaviours"].split(";")))
        if rec["behaviour_score"] == "" or not set(bhv) <= weights.keys():
            continue
        assert int(rec["behaviour_score"]) == min(100, sum(weights[b] for b in bhv)), (name, env)
    for name in QUIET:
        for env in ("container", "minimal"):
            assert not {"encrypt", "self-delete", "service-stop", "escape-attempt"} & set(
                rows[(name, env)]["behaviours"].split(";")), (name, env)


def test_service_impact(campaign):
    rows = by_name(campaign)
    assert rows[("killer", "container")]["service_impact"] != "none"
    assert "down" in rows[("killer", "container")]["service_impact"]
    assert rows[("selfdel", "container")]["service_impact"] == "none"


def test_labels(campaign):
    rows = by_name(campaign)
    for env in ("container", "minimal"):
        assert (rows[("scanner", env)]["class"], rows[("scanner", env)]["label_score"]) == \
            ("botnet", "80")
        assert (rows[("encryptor", env)]["class"], rows[("encryptor", env)]["label_score"]) == \
            ("ransomware", "100")
        assert (rows[("loop", env)]["class"], rows[("loop", env)]["label_score"]) == \
            ("miner", "30")
        # no report, or one that does not parse: no label score
        assert (rows[("segv", env)]["class"], rows[("segv", env)]["label_score"]) == ("-", "")
        assert (rows[("brute", env)]["class"], rows[("brute", env)]["label_score"]) == ("-", "")


def test_alerts(campaign):
    alerts = [json.loads(l) for l in (campaign["dir"] / "alerts.jsonl").read_text().splitlines()]
    assert alerts
    for a in alerts:
        assert a["source"] == "sandbox"
        assert a["check"] == "sandbox-threat-score"
        assert a["target"]["kind"] == "sample"
        assert a["severity"] in ("medium", "high", "critical")
        assert a["ts"].endswith("Z")
    names = {campaign["names"][a["target"]["id"]] for a in alerts}
    assert {"encryptor", "scanner"} <= names  # label scores 100 and 80
    enc = next(a for a in alerts if campaign["names"][a["target"]["id"]] == "encryptor")
    assert "T1486" in enc["attack"]


def test_report_options_mean_what_they_mean_everywhere(campaign, tmp_path):
    """-j is JSON output in every command; per-sample JSON reports are --json-dir DIR."""
    r = vigil("sandbox", "report", campaign["db"], "--json", tmp_path / "j", check=False)
    assert r.returncode == 2 and "--json-dir" in r.stderr
    r = vigil("sandbox", "report", campaign["db"], "--csv", tmp_path / "x.csv", "-p")
    assert json.loads(r.stdout)["runs_done"] == 30 and r.stdout.count("\n") > 3
    r = vigil("sandbox", "report", campaign["db"], "--bogus", check=False)
    assert r.returncode == 2 and "--bogus" in r.stderr


def test_json_reports_and_chart(campaign):
    d = campaign["dir"] / "json"
    files = sorted(d.glob("*.json"))
    assert len(files) == 15
    doc = json.loads((d / f"{next(s for s, n in campaign['names'].items() if n == 'dnscnc')}"
                      ".json").read_text())
    assert set(doc["runs"]) == {"container", "minimal"}
    run = doc["runs"]["container"]
    assert run["verdict"] == "ran" and run["research_verdict"] == "executable"
    assert "cnc.vigil-test.example" in run["network"]["dns_names"]
    ids = {b["id"]: b for b in run["behaviours"]}
    assert ids["c2"]["attack"] == "T1071" and ids["dns-lookup"]["attack"] == "T1071.004"
    assert run["wall_ms"] >= run["duration_ms"] > 0
    png = (campaign["dir"] / "chart.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_rerun_skips_finished(campaign, corpus):
    con = sqlite3.connect(campaign["db"])
    before = con.execute("SELECT sha256, env, finished_at FROM runs").fetchall()
    con.close()
    r = vigil("sandbox", "run", "--env", "container", "--env", "minimal", corpus, "-o",
              campaign["db"])
    assert "30 of 30 runs done" in r.stdout
    con = sqlite3.connect(campaign["db"])
    after = con.execute("SELECT sha256, env, finished_at FROM runs").fetchall()
    con.close()
    assert sorted(before) == sorted(after)  # nothing was run again


def _workers_of(db):
    """PIDs whose command line names DB (the campaign and its forked workers)."""
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if str(db).encode() in (p / "cmdline").read_bytes():
                    pids.append(int(p.name))
            except OSError:
                pass
    return pids


def test_resume_after_kill(corpus, tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    for name in ("loop", "daemon", "bindshell", "selfdel", "segv", "scanner", "brute", "mips"):
        shutil.copy(corpus / name, samples / name)
    db = tmp_path / "r.db"
    cmd = ["unshare", "-n", str(VIGIL), "sandbox", "run", "--env", "container", "-J", "1",
           "--timeout", "3", str(samples), "-o", str(db)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    done = 0
    while time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.2)
        try:
            con = sqlite3.connect(db, timeout=5)
            done = con.execute("SELECT COUNT(*) FROM runs WHERE state='done'").fetchone()[0]
            con.close()
        except sqlite3.Error:
            continue
        if done >= 2:
            break
    assert p.poll() is None, "the campaign finished before it could be interrupted"
    assert done >= 2
    p.send_signal(signal.SIGKILL)
    p.wait()
    for _ in range(50):  # the workers die with the campaign (PR_SET_PDEATHSIG)
        if not _workers_of(db):
            break
        time.sleep(0.1)
    assert not _workers_of(db), "a worker outlived the killed campaign"
    con = sqlite3.connect(db)
    states = dict(con.execute("SELECT state, COUNT(*) FROM runs GROUP BY state").fetchall())
    finished = con.execute("SELECT sha256, finished_at FROM runs WHERE state='done'").fetchall()
    con.close()
    assert states.get("done", 0) < 8
    assert states.get("pending", 0) + states.get("running", 0) > 0

    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "8 of 8 runs done" in r.stdout
    con = sqlite3.connect(db)
    rows = dict(con.execute("SELECT sha256, finished_at FROM runs").fetchall())
    states = dict(con.execute("SELECT state, COUNT(*) FROM runs GROUP BY state").fetchall())
    con.close()
    assert states == {"done": 8}
    for sha, fin in finished:  # finished runs were not redone
        assert rows[sha] == fin
    out = tmp_path / "r.csv"
    vigil("sandbox", "report", db, "--csv", out)
    assert len(out.read_text().splitlines()) == 9


def test_one_json(corpus, tmp_path):
    r = vigil("sandbox", "one", "--env", "container", corpus / "selfdel", "-o", tmp_path / "run",
              "-j")
    doc = json.loads(r.stdout)
    assert doc["env"] == "container" and doc["linkage"] == "static"
    assert doc["result"]["research_verdict"] == "executable"
    assert {"self-delete", "rename"} <= {b["id"] for b in doc["result"]["behaviours"]}
    assert (tmp_path / "run" / "status.json").exists()
    # the run directory must be fresh
    r = vigil("sandbox", "one", "--env", "container", corpus / "selfdel", "-o", tmp_path / "run",
              check=False)
    assert r.returncode == 2 and "not an empty directory" in r.stderr


@pytest.fixture(scope="module")
def system_works(corpus, tmp_path_factory):
    """The system environment, if it runs a sample here; otherwise the reason to skip."""
    d = tmp_path_factory.mktemp("sysprobe")
    try:
        r = vigil("sandbox", "one", "--env", "system", "--timeout", "5", corpus / "selfdel",
                  "-o", d / "run", "-j", timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return "the system environment did not finish one run in 10 minutes"
    if r.returncode != 0:
        return "the system environment failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    res = json.loads(r.stdout)["result"]
    if res["verdict"] == "env-error":
        return "the system environment failed: " + res["reason"]
    return None


def test_system_campaign(corpus, system_works, tmp_path):
    if system_works:
        pytest.skip(system_works)
    db = tmp_path / "sys.db"
    vigil("sandbox", "run", "--env", "system", corpus, "-o", db, timeout=3600)
    out = tmp_path / "sys.csv"
    vigil("sandbox", "report", db, "--csv", out)
    with open(out, newline="") as f:
        rows = {r["sha256"]: r for r in csv.DictReader(f)}
    names = {sha256(p): p.name for p in corpus.iterdir() if p.is_file()}
    by = {names[s]: r for s, r in rows.items()}
    assert len(by) == 15
    assert by["segv"]["finer_verdict"].startswith("crashed:")
    assert by["loop"]["exit_status"].startswith("124")
    assert by["mips"]["finer_verdict"].startswith("not-executable:")
    assert {"self-delete", "rename"} <= set(by["selfdel"]["behaviours"].split(";"))
    assert "scan" in by["scanner"]["behaviours"].split(";")
    assert {"kill", "service-stop"} <= set(by["killer"]["behaviours"].split(";"))
    assert by["dynmissing"]["finer_verdict"].startswith("load-failed:")
