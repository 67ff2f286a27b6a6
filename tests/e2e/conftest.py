"""pytest fixtures for vigil's end-to-end tests with real QEMU guests.

Fixtures:
  guest_image    (session) build.sh run once; the image directory (bzImage, initramfs, ...)
  guest_factory  (function) make(name=None, boot=True, **Guest kwargs) -> booted Guest; every
                 guest it made is stopped at the end of the test, whatever happened
  guest          (module) the default guest: 512M, KASLR on, 4-level paging, booted
  vigil_bin      path of the vigil CLI: $VIGIL_BIN or <repo>/build/vigil (fails if missing)
  run_vigil      run_vigil(*args, timeout=120, input=None) -> (rc, stdout, stderr)
On failure, the console tail of the guests a test used is added to its report; boot times
are listed in the terminal summary.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from guest import REPO, Guest, build_guest

BOOT_TIMEOUT = float(os.environ.get("VIGIL_GUEST_BOOT_TIMEOUT", "600"))
VIGIL_BIN = Path(os.environ.get("VIGIL_BIN", REPO / "build" / "vigil"))

_boot_times = []  # (guest description, seconds), for the terminal summary


def run_vigil(*args, timeout=120, input=None, env=None):
    """Run the vigil CLI; -> (rc, stdout, stderr). A hang past timeout fails the test."""
    if not VIGIL_BIN.exists():
        pytest.fail(f"vigil binary not found at {VIGIL_BIN} (build it or set VIGIL_BIN)")
    try:
        r = subprocess.run([str(VIGIL_BIN), *map(str, args)], capture_output=True, text=True,
                           timeout=timeout, input=input, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"vigil {' '.join(map(str, args))} timed out after {timeout}s; "
                    f"stderr: {e.stderr}")
    return r.returncode, r.stdout, r.stderr


def _describe(g):
    return (f"{g.name}: mem={g.mem >> 20}M kaslr={g.kaslr} la57={g.la57} smp={g.smp}")


def _boot(g):
    g.start()
    secs = g.wait_boot(BOOT_TIMEOUT)
    _boot_times.append((_describe(g), secs))
    return g


@pytest.fixture(scope="session")
def guest_image():
    if not shutil.which("qemu-system-x86_64"):
        pytest.fail("qemu-system-x86_64 missing: install scripts/packages.txt")
    return build_guest()


class GuestFactory:
    def __init__(self, image_dir, prefix):
        self.image_dir = image_dir
        self.prefix = prefix
        self.guests = []

    def __call__(self, name=None, boot=True, **kwargs):
        name = name or f"{self.prefix}{len(self.guests)}"
        g = Guest(name, image_dir=self.image_dir, **kwargs)
        self.guests.append(g)
        return _boot(g) if boot else g.start()

    def stop_all(self):
        for g in self.guests:
            g.stop()


def _safe_name(nodeid):
    return "".join(c if c.isalnum() else "_" for c in nodeid)[-24:]


@pytest.fixture
def guest_factory(guest_image, request):
    f = GuestFactory(guest_image, _safe_name(request.node.name) + "_")
    try:
        yield f
    finally:
        f.stop_all()


@pytest.fixture(scope="module")
def guest(guest_image, request):
    g = Guest(_safe_name(request.module.__name__), image_dir=guest_image)
    try:
        yield _boot(g)
    finally:
        g.stop()


@pytest.fixture(scope="session")
def vigil_bin():
    if not VIGIL_BIN.exists():
        pytest.fail(f"vigil binary not found at {VIGIL_BIN} (build it or set VIGIL_BIN)")
    return VIGIL_BIN


@pytest.fixture(name="run_vigil")
def run_vigil_fixture():
    return run_vigil


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    guests = []
    for v in getattr(item, "funcargs", {}).values():
        if isinstance(v, Guest):
            guests.append(v)
        elif isinstance(v, GuestFactory):
            guests.extend(v.guests)
    for g in guests:
        rep.sections.append((f"guest {g.name} console (tail)", g.console_output[-3000:]))


def pytest_terminal_summary(terminalreporter):
    if _boot_times:
        terminalreporter.write_sep("-", "guest boot times under TCG (start to shell)")
        for desc, secs in _boot_times:
            terminalreporter.write_line(f"{secs:7.1f} s  {desc}")


@pytest.fixture(scope="session", autouse=True)
def sandbox_images(request):
    """The sandbox's environments, prepared with network access (`vigil sandbox prepare`: a
    fraction of a second when the cache already holds them) before any sandbox test runs vigil
    in a namespace without an uplink, where runs only look for the images and never download."""
    if not any("test_sandbox" in str(item.fspath) for item in request.session.items):
        return
    if not VIGIL_BIN.exists():
        pytest.fail(f"vigil binary not found at {VIGIL_BIN} (build it or set VIGIL_BIN)")
    r = subprocess.run([str(VIGIL_BIN), "sandbox", "prepare"], capture_output=True, text=True,
                       timeout=1800)
    if r.returncode != 0:
        pytest.fail(f"vigil sandbox prepare failed: {r.stderr[-3000:]}")
