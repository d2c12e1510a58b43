"""`make run` as a newcomer uses it: it comes up on a free port, serves the login page and the
Mailbox (with the demo's invitation emails in it, linking to that port), the patient login it prints
signs in to the portal, and Ctrl-C or SIGTERM stops every process it started, also when it was
started in the background of a shell (where SIGINT is ignored unless a handler is installed)."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def get(opener, url):
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except OSError:
        return None


def port_is_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


needs_venv = pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(), reason="needs the project's .venv")


def start(command: list[str], tmp_path) -> tuple[subprocess.Popen, int, int]:
    port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST", "PORTICO_BASE_URL"))}
    env.update({"PORT": str(port), "SMTP_PORT": str(smtp_port), "SMS_PORT": str(free_port()),
                "PORTICO_VAR_DIR": str(tmp_path)})
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    return proc, port, smtp_port


def sign_in(opener, url: str, username: str, password: str) -> str:
    """Post a sign-in form as a browser does; returns the page it ends on."""
    status, page = get(opener, url)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf}).encode()
    with opener.open(urllib.request.Request(url, data=form, headers={"Referer": url}), timeout=10) as response:
        assert response.status == 200
        return response.read().decode()


def new_opener():
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def assert_stopped_cleanly(output: str, port: int, smtp_port: int) -> None:
    assert "Stopped the web app, worker, periodic jobs, SMTP server and SMS stand-in." in output
    assert "Traceback" not in output
    assert not port_is_open(port) and not port_is_open(smtp_port)
    leftovers = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True).stdout
    assert leftovers == ""


@needs_venv
def test_make_run_serves_the_demo_and_stops_on_ctrl_c(tmp_path):
    proc, port, smtp_port = start(["make", "run"], tmp_path)
    base = f"http://127.0.0.1:{port}"
    opener = new_opener()
    try:
        status, page = wait_for(lambda: get(opener, f"{base}/login/"), 180, "the login page")
        assert status == 200 and "Staff sign in" in page
        sign_in(opener, f"{base}/login/", "frontdesk", "portico-demo-staff")
        # The worker delivers the demo's invitations to the local SMTP server; the Mailbox lists them.
        status, mailbox = wait_for(
            lambda: (r := get(opener, f"{base}/mailbox/")) and "invites you to its patient portal" in r[1] and r,
            60, "invitation emails in the Mailbox")
        assert status == 200 and "<h1>Mailbox</h1>" in mailbox
        # Their links use the port the demo runs on.
        first = re.search(r'href="(/mailbox/[^"]+/)">[^<]*invites you', mailbox).group(1)
        status, message = get(opener, base + first)
        assert f"{base}/portal/i/" in message and "127.0.0.1:8000" not in message
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output = proc.communicate(timeout=30)[0]
    assert "Demo logins" in output and "frontdesk / portico-demo-staff" in output
    assert "manager / portico-demo-staff" in output
    assert f"Mailbox         {base}/mailbox/" in output
    assert_stopped_cleanly(output, port, smtp_port)


@needs_venv
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_make_run_in_the_background_of_a_shell_stops_on_a_signal(tmp_path, signum):
    # Without job control a shell starts background jobs with SIGINT ignored; that is inherited.
    proc, port, smtp_port = start(["bash", "-c", "make run & wait"], tmp_path)
    base = f"http://127.0.0.1:{port}"
    opener = new_opener()
    try:
        wait_for(lambda: get(opener, f"{base}/login/"), 180, "the login page")
        patient = patient_login(proc)
        home = sign_in(opener, f"{base}/portal/login/", *patient)
        assert "Demo Family Practice" in home, "the printed patient login did not reach the portal"
    finally:
        os.killpg(proc.pid, signum)
        try:
            output = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            for pid in session_pids(proc):  # every process this test started, by its id
                os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"make run did not stop on {signal.Signals(signum).name}") from None
    assert_stopped_cleanly(output, port, smtp_port)
    # (an orphaned parent may stay a zombie for a moment until init reaps it)
    wait_for(lambda: not session_pids(proc), 10, "every process started to exit")


def session_pids(proc: subprocess.Popen) -> list[int]:
    """The processes still running in the session the test started (make, rundemo and its children)."""
    found = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def patient_login(proc: subprocess.Popen) -> tuple[str, str]:
    """Read the demo's output up to the patient login it prints."""
    for line in proc.stdout:
        if found := re.search(r"patient (\S+) / (\S+)", line):
            return found.groups()
    raise AssertionError("no patient login printed")
