"""Every test has a time limit (pytest.ini's `timeout`, pytest-timeout): a bulk chunk that loops
forever fails its test, by name, instead of hanging the suite and CI."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOOPING_JOB = '''
from unittest import mock

from access.actions import jobs


def test_a_job_whose_chunk_never_finishes():
    with mock.patch("access.actions.jobs._run_job_chunk", return_value=1):  # "1 processed", for ever
        jobs.run_invitation_job(1)
'''


def test_a_test_that_hangs_fails_by_name_within_its_time_limit(tmp_path):
    (tmp_path / "test_looping_job.py").write_text(LOOPING_JOB)
    # The project's own configuration (pytest.ini, its plugins), with a 2-second limit in place of the default.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pytest.ini"), "--rootdir", str(ROOT), "-p", "no:cacheprovider",
         "-o", "timeout=2", str(tmp_path / "test_looping_job.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    [failure] = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
    assert "::test_a_job_whose_chunk_never_finishes - Failed: Timeout (>2.0s)" in failure


def test_every_test_has_a_default_time_limit(pytestconfig):
    assert float(pytestconfig.getini("timeout")) > 0
