"""End-to-end test of preparing the sandbox offline (issue 9, defect 2).

A cautious analyst runs malware campaigns in a network namespace without an uplink. Runs there
must never try to download anything: `vigil sandbox prepare` downloads and builds the
environments once, with network; afterwards campaigns inside `unshare -n` complete, and
without a prepared cache they fail at once with one line naming `vigil sandbox prepare`.

The test uses a cache of its own (VIGIL_CACHE in a temporary directory), so the first
`prepare` really downloads Debian's armhf packages (a few MB for container and minimal) and
nothing another test or engineer cached is touched. The system environment's 46 MB image is
not prepared here (test_sandbox_system.py prepares it in the default cache): only the error
without it is checked.
"""

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from guest import REPO

VIGIL = Path(os.environ.get("VIGIL_BIN", REPO / "build" / "vigil"))
CORPUS_BUILD = REPO / "tests" / "fixtures" / "samples" / "build.sh"


def vigil(*args, cache, offline=True, timeout=900, **env_extra):
    """vigil with its own cache; offline: under `unshare -n` (no uplink, loopback down)."""
    env = dict(os.environ, VIGIL_CACHE=str(cache), **env_extra)
    cmd = (["unshare", "-n"] if offline else []) + [str(VIGIL), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    for tool in ("unshare", "arm-linux-gnueabi-gcc"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} missing: install scripts/packages.txt")
    r = subprocess.run([str(CORPUS_BUILD)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    corpus = Path(r.stdout.strip())
    d = tmp_path_factory.mktemp("prep-samples")
    for name in ("selfdel", "scanner", "mips"):  # runs, scans the sinkhole, not ARM
        shutil.copy(corpus / name, d / name)
    return d


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("prep-cache")


def test_without_prepare_runs_fail_naming_it(samples, cache, tmp_path):
    r = vigil("sandbox", "run", "--env", "container", samples, "-o", tmp_path / "r.db",
              cache=cache)
    assert r.returncode == 2
    assert "vigil sandbox prepare --env container" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "r.db").exists()  # nothing started
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    r = vigil("sandbox", "one", "--env", "system", samples / "selfdel", "-o", tmp_path / "one",
              cache=cache, TMPDIR=str(scratch))
    assert r.returncode == 2 and "vigil sandbox prepare --env system" in r.stderr, r.stderr
    assert list(scratch.iterdir()) == []  # no empty scratch directory left behind


def test_campaign_offline_after_prepare(samples, cache, tmp_path):
    r = vigil("sandbox", "prepare", "--env", "container", "--env", "minimal", "-j",
              cache=cache, offline=False, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    prepared = {e["env"]: e for e in json.loads(r.stdout)["envs"]}
    assert set(prepared) == {"container", "minimal"}
    assert Path(prepared["container"]["image"]) == cache / "sandbox"
    assert (cache / "sandbox" / "rootfs-armhf" / "bin" / "busybox").exists()
    # the progress lines: each builder step, named by the environments it makes
    assert "sandbox prepare: container, minimal: downloading" in r.stderr, r.stderr

    # with the cache, prepare needs no network either (it finds the images)
    r = vigil("sandbox", "prepare", "--env", "container", cache=cache)
    assert r.returncode == 0 and "container" in r.stdout, r.stderr

    db = tmp_path / "r.db"
    r = vigil("sandbox", "run", "--env", "container", "--env", "minimal", "--timeout", "4",
              samples, "-o", db, "-j", cache=cache)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert out["runs"] == out["done"] == 6 and out["pending"] == 0
    r = vigil("sandbox", "report", db, "--csv", "-", cache=cache)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 6
    verdicts = sorted(row["research_verdict"] for row in rows)
    assert verdicts == ["executable"] * 4 + ["not executable"] * 2, rows
    # the scanner's connections landed in each worker's sinkhole, with no uplink anywhere
    assert sum("scan" in row["behaviours"].split(";") for row in rows) == 2, rows
