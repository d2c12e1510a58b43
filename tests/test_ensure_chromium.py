"""`make test` gets its own Chromium: scripts/ensure-chromium picks, installs (as root, with apt-get) or
stops with one line. Each case runs the real script with a PATH of our making, so nothing is installed."""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ensure-chromium"
HOW = "install Debian's chromium (apt-get install chromium fonts-dejavu-core) or set CHROMIUM_PATH=/path/to/chromium."


def run(path_dir: Path, **env) -> subprocess.CompletedProcess:
    # Only our directory on PATH: no real chromium or apt-get can be found.
    return subprocess.run(["/bin/bash", str(SCRIPT)], env={"PATH": str(path_dir), **env},
                          capture_output=True, text=True, timeout=30)


def executable(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)
    return path


def test_it_uses_chromium_path_when_set(tmp_path):
    chromium = executable(tmp_path / "my-chromium", "")
    result = run(tmp_path, CHROMIUM_PATH=str(chromium))
    assert (result.returncode, result.stdout) == (0, f"{chromium}\n")


def test_it_stops_with_one_line_when_chromium_path_is_wrong(tmp_path):
    executable(tmp_path / "chromium", "")  # one on PATH is not taken instead of the one asked for
    result = run(tmp_path, CHROMIUM_PATH=str(tmp_path / "missing"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"CHROMIUM_PATH={tmp_path / 'missing'} is not an executable file: {HOW}\n"


def test_it_uses_chromium_on_path(tmp_path):
    chromium = executable(tmp_path / "chromium", "")
    result = run(tmp_path)
    assert (result.returncode, result.stdout) == (0, f"{chromium}\n")


def test_it_stops_with_one_line_when_it_cannot_install(tmp_path):
    result = run(tmp_path)  # no chromium, no apt-get
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"The browser tests need Chromium: {HOW}\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="installing is tried only as root")
def test_it_installs_debians_chromium_as_root(tmp_path):
    log = tmp_path / "apt.log"
    # A stand-in apt-get: records how it was called, and "install" puts a chromium on PATH.
    executable(tmp_path / "apt-get", f'echo "$DEBIAN_FRONTEND $*" >> {log}\n'
                                     f'if [ "$1" = install ] || [ "$2" = install ]; then '
                                     f'printf "#!/bin/bash\\n" > {tmp_path}/chromium; /bin/chmod +x {tmp_path}/chromium; fi')
    result = run(tmp_path)
    assert (result.returncode, result.stdout) == (0, f"{tmp_path / 'chromium'}\n"), result.stderr
    assert log.read_text().splitlines() == [
        "noninteractive update -qq",
        "noninteractive install -y -qq --no-install-recommends chromium fonts-dejavu-core",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="as root it would try apt-get")
def test_it_does_not_try_apt_get_unless_root(tmp_path):
    log = tmp_path / "apt.log"
    executable(tmp_path / "apt-get", f'echo called >> {log}')
    result = run(tmp_path)
    assert result.returncode == 1 and not log.exists()
    assert result.stderr == f"The browser tests need Chromium: {HOW}\n"
