"""`make run` as a newcomer uses it: it comes up on a free port, serves the login page and the
Mailbox (with the demo's invitation emails in it), and Ctrl-C stops every process it started."""

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


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(), reason="needs the project's .venv")
def test_make_run_serves_the_demo_and_stops_on_ctrl_c(tmp_path):
    port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update({"PORT": str(port), "SMTP_PORT": str(smtp_port), "PORTICO_VAR_DIR": str(tmp_path)})
    proc = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        status, page = wait_for(lambda: get(opener, f"{base}/login/"), 180, "the login page")
        assert status == 200 and "Staff sign in" in page
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": "frontdesk", "password": "portico-demo-staff",
                                       "csrfmiddlewaretoken": csrf}).encode()
        request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": f"{base}/login/"})
        with opener.open(request, timeout=10) as response:
            assert response.status == 200
        # The worker delivers the demo's invitations to the local SMTP server; the Mailbox lists them.
        status, mailbox = wait_for(
            lambda: (r := get(opener, f"{base}/mailbox/")) and "invites you to its patient portal" in r[1] and r,
            60, "invitation emails in the Mailbox")
        assert status == 200 and "<h1>Mailbox</h1>" in mailbox
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output = proc.communicate(timeout=30)[0]
    assert "Demo logins" in output and "frontdesk / portico-demo-staff" in output
    assert f"Mailbox         {base}/mailbox/" in output
    assert "Stopped the web app, worker, periodic jobs and SMTP server." in output
    assert "Traceback" not in output
    assert not port_is_open(port) and not port_is_open(smtp_port)
    leftovers = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True).stdout
    assert leftovers == ""
