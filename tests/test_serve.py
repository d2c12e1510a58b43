"""Production as a practice runs it: `manage.py serve` (what `make serve` runs) behind a TLS-terminating
proxy on loopback. Styled pages, form posts accepted, static files cached, `check --deploy` clean, and
a missing setting refused with one line."""

import datetime
import http.cookiejar
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import free_port
from tests.processes import alive, descendants, kill_all

ROOT = Path(__file__).resolve().parents[1]


def production_env(tmp_path: Path, base_url: str, **extra) -> dict[str, str]:
    """The settings the README's "Deploying" section lists, and nothing from this test run."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "PYTEST", "PORTICO_", "DEBUG", "SECRET_KEY", "DATABASE_URL"))}
    env.update({
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PORTICO_FIELD_KEYS": Fernet.generate_key().decode(),
        "PORTICO_HISTORY_KEYS": f"k1:{secrets.token_urlsafe(32)}",
        "PORTICO_BASE_URL": base_url,
        "ALLOWED_HOSTS": urllib.parse.urlsplit(base_url).hostname,
        "PORTICO_VAR_DIR": str(tmp_path),
        **extra,
    })
    return env


def manage(env, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_check_deploy_is_clean_with_the_readmes_settings(tmp_path):
    result = manage(production_env(tmp_path, "https://portal.example.org"), "check", "--deploy",
                    "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_serve_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path, "https://portal.example.org")
    del env["SECRET_KEY"]
    result = manage(env, "serve", timeout=60)
    assert result.returncode == 1
    assert result.stderr == "Portico cannot start: SECRET_KEY is not set (it is required when DEBUG is off)\n"


def test_the_periodic_jobs_run_as_often_as_the_environment_says(settings):
    from ops.management.commands.serve import Command

    settings.PORTICO_PERIODIC_SECONDS = 7
    assert Command()._commands()["periodic"][-3:] == ["run_periodic", "--interval", "7"]


def test_gunicorns_control_socket_is_in_the_nodes_own_var_folder(settings, tmp_path):
    # Not gunicorn's default, one per user of the machine, which a second node there would take over.
    from ops.management.commands.serve import Command

    settings.VAR_DIR = tmp_path
    web = Command()._commands()["web"]
    assert web[web.index("--control-socket") + 1] == str(tmp_path / "gunicorn.ctl")


def test_serve_refuses_debug(tmp_path):
    result = manage(production_env(tmp_path, "https://portal.example.org", DEBUG="1"), "serve", timeout=60)
    assert result.returncode == 1
    assert "DEBUG is on: `manage.py serve` is for production (use `make run` for the demo)." in result.stderr
    assert not (tmp_path / "static" / "staticfiles.json").exists()  # stopped before doing anything


# --- a TLS-terminating proxy, as nginx would be: https outside, plain http to gunicorn ----------------

def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class TLSProxy:
    """Accepts https on `port`, forwards each request to gunicorn over http with the headers a proxy
    sets (X-Forwarded-Proto: https, replacing any the client sent; X-Real-IP), one request a connection."""

    def __init__(self, port: int, upstream: int, cert: Path, key: Path):
        self.upstream = upstream
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.listener = context.wrap_socket(socket.create_server(("127.0.0.1", port)), server_side=True)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client):
        with client, socket.create_connection(("127.0.0.1", self.upstream)) as upstream:
            upstream.sendall(self._rewrite(client))
            while chunk := upstream.recv(65536):
                client.sendall(chunk)

    @staticmethod
    def _rewrite(client) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += client.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        lines = [line for line in head.split(b"\r\n")
                 if not line.lower().startswith((b"x-forwarded-proto:", b"x-real-ip:", b"connection:"))]
        length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += client.recv(65536)
        lines += [b"X-Forwarded-Proto: https", b"X-Real-IP: 127.0.0.1", b"Connection: close"]
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    def close(self):
        self.listener.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def probe(port: int, path: str) -> tuple[int, dict | None] | None:
    """A health probe straight at gunicorn over plain http, as a load balancer or monitor sends it (a
    redirect is an answer too, not followed); None while nothing answers."""
    try:
        with urllib.request.build_opener(NoRedirect).open(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()) if e.code == 503 else None
    except OSError:
        return None


def workers_alive(port: int) -> dict | None:
    """The report once a task worker has beaten; None before."""
    answer = probe(port, "/health/workers/")
    if answer is None:
        return None
    assert answer[0] in (200, 503), answer  # not redirected to https: a monitor probes over plain http
    return answer[1] if answer[0] == 200 else None


MAKE_STAFF = """
from django.contrib.auth import get_user_model
from clinic.models import Practice, StaffMember
user = get_user_model().objects.create_user("frontdesk", password="front-desk-password")
StaffMember.objects.create(user=user, practice=Practice.objects.create(name="Maple Street Clinic"), role="staff")
"""


def test_serve_behind_a_tls_proxy(tmp_path):
    app_port, proxy_port = free_port(), free_port()
    base = f"https://127.0.0.1:{proxy_port}"
    env = production_env(tmp_path, base, PORTICO_BIND=f"127.0.0.1:{app_port}", PORTICO_WEB_WORKERS="2",
                         PORTICO_CLIENT_IP_HEADER="X-Real-IP")
    cert, key = self_signed_certificate(tmp_path)
    proxy = TLSProxy(proxy_port, app_port, cert, key)
    serve = subprocess.Popen([sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    tls = ssl.create_default_context(cafile=str(cert))
    browser = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls), NoRedirect,
                                          urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def fetch(path, form=None):
        headers = {"Origin": base, "Referer": f"{base}/login/"} if form else {}
        data = urllib.parse.urlencode(form).encode() if form else None
        try:
            response = browser.open(urllib.request.Request(base + path, data=data, headers=headers), timeout=10)
        except urllib.error.HTTPError as e:
            response = e
        with response:
            return response.status, response.headers, response.read()

    try:
        # The task workers have started once /health/workers/ passes; the load balancer's /health/ passes too.
        report = wait_for(lambda: workers_alive(app_port), 90, "a task worker's beat at /health/workers/")
        assert report["database"] == "ok" and report["worker"] == "ok"
        assert probe(app_port, "/health/")[0] == 200
        assert manage(env, "shell", "-c", MAKE_STAFF).returncode == 0  # serve has migrated the database

        status, headers, page = fetch("/login/")
        assert status == 200 and "Strict-Transport-Security" in headers
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        page = page.decode()
        css = re.search(r'<link rel="stylesheet" href="(/static/portico\.[0-9a-f]{12}\.css)">', page).group(1)
        status, headers, body = fetch(css)
        assert status == 200 and b".topbar" in body and "immutable" in headers["Cache-Control"]

        # Sign in, then post a form (sign out): both pass the CSRF checks over https.
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, headers, _ = fetch("/login/", {"username": "frontdesk", "password": "front-desk-password",
                                               "csrfmiddlewaretoken": token})
        assert (status, headers["Location"]) == (302, "/")
        assert "; secure" in headers["Set-Cookie"].lower()
        status, _, patients = fetch("/patients/")
        assert status == 200 and "Log out" in patients.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', patients.decode()).group(1)
        status, headers, _ = fetch("/logout/", {"csrfmiddlewaretoken": token})
        assert (status, headers["Location"]) == (302, "/login/")
        assert fetch("/patients/")[0] == 302  # signed out

        # Straight to gunicorn over plain http: sent to https.
        direct = urllib.request.build_opener(NoRedirect)
        try:
            direct.open(f"http://127.0.0.1:{app_port}/login/", timeout=5)
        except urllib.error.HTTPError as e:
            assert (e.code, e.headers["Location"]) == (301, f"https://127.0.0.1:{app_port}/login/")

        leaked = "A" * 43
        fetch(f"/portal/i/{leaked}/")
    finally:
        os.killpg(serve.pid, signal.SIGTERM)  # as a service manager stops it
        output = serve.communicate(timeout=30)[0]
        proxy.close()
    assert serve.returncode == 0, output
    assert "Stopped the web server, task workers and periodic jobs." in output
    assert "Traceback" not in output
    assert '"GET /portal/i/[redacted]/' in output and leaked not in output  # gunicorn's access log
    assert wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", app_port)) != 0, 10, "gunicorn to stop")


def test_a_killed_serve_takes_its_web_server_and_workers_with_it(tmp_path):
    """SIGKILL (or the OOM killer) on `serve` alone, which cannot stop its children itself: they stop
    anyway, freeing the port for the restart, instead of serving and sending on unsupervised."""
    port = free_port()
    env = production_env(tmp_path, f"http://127.0.0.1:{port}", PORTICO_BIND=f"127.0.0.1:{port}",
                         PORTICO_WEB_WORKERS="1")
    serve = subprocess.Popen([sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    children = []
    try:
        wait_for(lambda: workers_alive(port), 90, "a task worker's beat at /health/workers/")
        children = descendants(serve.pid)
        assert len(children) >= 4  # gunicorn and its worker, a task worker, the periodic jobs
        serve.kill()
        serve.wait(10)
        wait_for(lambda: not any(alive(pid) for pid in children), 30, "the children of the killed serve to stop")
        assert wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) != 0, 10, "the port to be free")
    finally:
        serve.kill()
        kill_all(children)
