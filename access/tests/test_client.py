from access.history import Client


def test_it_takes_the_connection_address(rf):
    request = rf.get("/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Browser/1")
    assert Client.from_request(request) == Client("203.0.113.5", "Browser/1")


def test_it_ignores_proxy_headers_unless_configured(rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="203.0.113.5")
    assert Client.from_request(request).ip == "10.0.0.2"


def test_it_reads_the_configured_proxy_header(rf, settings):
    settings.PORTICO_CLIENT_IP_HEADER = "X-Real-IP"
    assert Client.from_request(rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="203.0.113.5")).ip == "203.0.113.5"
    # Missing or garbage: the connection's address, or none at all; never an invalid value.
    assert Client.from_request(rf.get("/", REMOTE_ADDR="10.0.0.2")).ip == "10.0.0.2"
    assert Client.from_request(rf.get("/", REMOTE_ADDR="", HTTP_X_REAL_IP="<script>")).ip is None
