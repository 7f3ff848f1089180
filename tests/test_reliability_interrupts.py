"""Reliability, interrupt family (issue 14, defect 3), with real Lava runs: Ctrl-C (SIGINT to the
whole process group), SIGTERM and SIGKILL of ``modspike run --backend lava``; no Lava worker may
survive, the command says one line and exits 130 / 143, and nothing partial is left. Also SIGTERM
while an output is being written (no Lava): the temporary folder is removed."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nir
import pytest
from conftest import export_active_model, export_graph

from modspike.cli import main
from modspike.fixedpoint import WeightFormat

MODSPIKE = [sys.executable, "-m", "modspike"]
pytestmark = [pytest.mark.lava, pytest.mark.slow]


def _ppid_table() -> dict[int, int]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            fields = stat.rsplit(b")", 1)[1].split()
            if fields[0] != b"Z":
                table[int(entry)] = int(fields[1])
    return table


def _descendants(pid: int) -> set[int]:
    table, found, frontier = _ppid_table(), set(), [pid]
    while frontier:
        parent = frontier.pop()
        kids = {p for p, pp in table.items() if pp == parent} - found
        found |= kids
        frontier += kids
    return found


def _alive(pids) -> set[int]:
    table = _ppid_table()
    return {p for p in pids if p in table}


@pytest.fixture(scope="module")
def long_artifact(tmp_path_factory):
    """A LIF artifact with a long code (60 steps): a Lava run over the digits train split takes
    far longer than the tests wait before they interrupt it."""
    tmp = tmp_path_factory.mktemp("interrupts")
    model = export_active_model("lif", layers=1, recurrent=False, hidden=16)
    info = {"encoding": {"name": "rate", "steps": 60, "gain": 0.8, "prefix": 0}, "data": "digits"}
    graph = export_graph(model, WeightFormat(), info=info)[0]
    nir.write(tmp / "m.nir", graph)
    assert main(["import-nir", str(tmp / "m.nir"), "--out", str(tmp / "art")]) == 0
    return tmp / "art"


@pytest.fixture
def lava_run(long_artifact, tmp_path):
    """Start ``modspike run --backend lava`` (own process group, stderr to a file) once Lava's
    workers run: ``(process, its descendants, stderr file)``. Whatever survives a test is
    killed afterwards, so that a failing test leaves no process behind either."""
    started = []

    def start(out: Path):
        argv = [*MODSPIKE, "run", str(long_artifact), "--backend", "lava", "--split", "train"]
        err = tmp_path.parent / f"{tmp_path.name}.stderr"
        with open(err, "w") as stderr:
            proc = subprocess.Popen(
                [*argv, "--quiet", "--out", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        started.append((proc, set()))
        deadline = time.monotonic() + 120
        kids: set[int] = set()
        while time.monotonic() < deadline and proc.poll() is None:
            kids = _descendants(proc.pid)
            started[-1][1].update(kids)
            if len(kids) >= 4:  # resource tracker, shared-memory manager, >= 2 Lava workers
                break
            time.sleep(0.2)
        assert proc.poll() is None and len(kids) >= 4, (kids, proc.poll())
        time.sleep(1.0)  # let the run itself start
        kids |= _descendants(proc.pid)
        started[-1][1].update(kids)
        return proc, kids, err

    yield start
    for proc, kids in started:
        for pid in _alive(kids | {proc.pid}):
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _mp_dirs(pid: int) -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), f"modspike-mp-{pid}-*"))


def _finish(proc: subprocess.Popen, err: Path, timeout: float = 60) -> tuple[int, str]:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the command did not exit within {timeout} s of the signal")
    return proc.returncode, err.read_text()


def _gone_within(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(pids)


@pytest.mark.parametrize(
    "sig,group,code",
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c-to-the-group", "sigterm-to-the-command"],
)
def test_interrupted_lava_run_stops_every_worker_in_one_line(sig, group, code, lava_run, tmp_path):
    out = tmp_path / "result.json"
    proc, workers, err_file = lava_run(out)
    t0 = time.monotonic()
    if group:
        os.killpg(proc.pid, sig)  # what a Ctrl-C in a terminal does
    else:
        proc.send_signal(sig)
    returncode, err = _finish(proc, err_file)
    assert time.monotonic() - t0 < 30
    assert returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"interrupted by {signal.Signals(sig).name}" in lines[0], lines
    assert not _gone_within(workers, 10), "Lava workers outlived the command"
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert not _mp_dirs(proc.pid)


def test_sigkill_of_the_command_takes_its_workers_along(lava_run, tmp_path):
    out = tmp_path / "result.json"
    proc, workers, _ = lava_run(out)
    proc.kill()
    proc.wait(timeout=60)
    assert not _gone_within(workers, 15), "Lava workers outlived a SIGKILLed parent"
    left = _mp_dirs(proc.pid)
    assert left  # SIGKILL gives no chance to clean up ...
    clean = "from modspike.hw.lava.support import import_lava; import_lava()"
    subprocess.run([sys.executable, "-c", clean], check=True, timeout=120)
    assert not any(os.path.exists(p) for p in left)  # ... the next Lava start does


SIGTERM_WHILE_WRITING = """
import os, signal, sys, time
import modspike.export.artifact_build as build
from modspike.cli import main

def slow_check(path, *args, **kwargs):  # runs inside the artifact's temporary folder
    print("WRITING", path.parent, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)

build.import_nir = slow_check
sys.exit(main(["import-nir", sys.argv[1], "--out", sys.argv[2]]))
"""


def test_sigterm_while_an_artifact_is_written_removes_the_temporary(long_artifact, tmp_path):
    out = tmp_path / "art"
    proc = subprocess.run(
        [sys.executable, "-c", SIGTERM_WHILE_WRITING, str(long_artifact / "model.nir"), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 143, proc.stderr
    temporary = Path(proc.stdout.split("WRITING", 1)[1].split()[0])
    assert temporary.parent == tmp_path and temporary.name.startswith(".art.modspike-tmp-")
    assert not temporary.exists() and list(tmp_path.iterdir()) == []
    lines = [ln for ln in proc.stderr.strip().splitlines() if "dt =" not in ln]
    assert lines == ["modspike import-nir: interrupted by SIGTERM: stopped"], proc.stderr
