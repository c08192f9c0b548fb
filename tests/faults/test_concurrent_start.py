"""Two processes starting at once on a fresh data folder: the second waits for the first one's seeding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.conftest import assert_consistent

ROOT = Path(__file__).resolve().parents[2]

# A real `paperbot` process whose bundled corpus is 12 small papers read slowly (the real one takes a
# minute to embed here): the seeding is still under way when the second process starts.
DRIVER = """
import sys, time
import retrieval.library as library
from tests.conftest import make_papers

def slow_pages(_folder):
    time.sleep(float(sys.argv[1]))
    return make_papers(12)

library.parse_pages_dir = slow_pages
from bot.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _start(delay: float, *argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(delay), *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_process_waits_for_the_first_ones_seeding(tmp_path):
    data_dir = tmp_path / "fresh"
    first = _start(6.0, "--data-dir", str(data_dir), "stats")
    lock = data_dir / ".seed.lock"
    deadline = time.monotonic() + 120
    while not lock.exists() and time.monotonic() < deadline:  # the first one is seeding
        time.sleep(0.1)
    assert lock.exists(), first.communicate()
    second = _start(0.0, "--data-dir", str(data_dir), "ask", "--json", "Paper 4: Diffusion models for image synthesis")
    out2, err2 = second.communicate(timeout=300)
    out1, err1 = first.communicate(timeout=300)
    assert first.returncode == 0 and "papers: 12" in out1, err1
    assert second.returncode == 0, err2
    answer = json.loads(out2)
    # Before the fix: "Not covered by the 0 papers I know", exit 0.
    assert not answer["abstained"] and answer["sources"][0]["title"].startswith("Paper 4")
    assert "another process is importing the bundled papers" in err2 and "waiting for it" in err2
    assert "Traceback" not in err1 + err2
    assert assert_consistent(data_dir) == 12
