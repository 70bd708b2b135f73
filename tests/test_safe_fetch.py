"""Server-side fetches: off unless allow-listed, internal ranges need explicit entries, short timeouts, bounded
reads, and one failure message that never echoes the reply nor tells HTTP codes from timeouts (no port probing)."""

import http.server
import threading
import time

import pytest

from fake_server import free_port
from factory_model import safe_fetch
from factory_model.calibration import TelemetryError, server_metrics
from factory_model.calibration.telemetry import PrometheusClient

SECRET = b"root:x:0:0:root:/root:/bin/bash SECRET-LINE"


class Server:
    """A local HTTP server answering every GET with ``status`` and ``body`` (or hanging); counts requests."""

    def __init__(self, status=200, body=SECRET, hang_s=0.0, headers=()):
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                outer.requests += 1
                if hang_s:
                    time.sleep(hang_s)
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/metrics"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_fetches_are_off_without_configuration(server, monkeypatch):
    monkeypatch.delenv(safe_fetch.ENV_ALLOW)
    assert not safe_fetch.enabled()
    with pytest.raises(safe_fetch.FetchError, match="fetches are off"):
        safe_fetch.fetch(server.url)
    with pytest.raises(TelemetryError, match="fetches are off"):
        server_metrics.ServerScraper(server.url)
    with pytest.raises(TelemetryError, match="fetches are off"):
        PrometheusClient(server.url)
    assert server.requests == 0  # refused before any request


@pytest.mark.parametrize("allow", ["*", "localhost", "10.0.0.0/8", "127.0.0.2", "127.0.0.1:1"])
def test_loopback_needs_an_explicit_entry(server, allow):
    safe_fetch.configure(allow)
    for url in (server.url, server.url.replace("127.0.0.1", "localhost")):
        with pytest.raises(safe_fetch.FetchError, match="not on this server's allow-list"):
            safe_fetch.fetch(url)
    assert server.requests == 0


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[::1]:80/",
                                 "http://10.1.2.3/", "http://192.168.0.1/", "http://0.0.0.0/",
                                 "http://[::ffff:127.0.0.1]/", "http://2130706433/"])
def test_internal_ranges_are_refused_even_with_a_wildcard(url):
    safe_fetch.configure("*")
    with pytest.raises(safe_fetch.FetchError, match="allow-list|valid URL|name a host"):
        safe_fetch.fetch(url, timeout_s=0.5)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1/", "http://u:p@127.0.0.1/",
                                 "http://127.0.0.1:99999/", "http://127.0.0.1/a b", "", "x" * 5000])
def test_malformed_urls_are_refused(url):
    with pytest.raises(safe_fetch.FetchError):
        safe_fetch.check_url(url)


def test_listed_server_is_fetched_with_port_and_cidr_entries(server):
    port = server.httpd.server_port
    for allow in (f"127.0.0.1:{port}", "127.0.0.0/8", f"127.0.0.1:{port},10.0.0.0/8"):
        safe_fetch.configure(allow)
        assert safe_fetch.fetch(server.url) == SECRET


@pytest.mark.parametrize("kind", ["status404", "status500", "redirect", "closed", "hang", "huge", "garbage"])
def test_every_failure_reads_the_same_and_never_echoes_the_reply(kind):
    servers = {"status404": dict(status=404), "status500": dict(status=500),
               "redirect": dict(status=302, headers=[("Location", "http://127.0.0.1:1/")]),
               "hang": dict(hang_s=3.0), "huge": dict(body=b"x" * (3 * 2**20)), "garbage": dict()}
    s = Server(**servers[kind]) if kind in servers else None
    url = s.url if s else f"http://127.0.0.1:{free_port()}/metrics"
    t0 = time.monotonic()
    try:
        with pytest.raises(TelemetryError) as info:
            server_metrics.ServerScraper(url, timeout_s=0.5, max_bytes=2**20).scrape()
    finally:
        if s:
            s.close()
    message = str(info.value)
    assert message == str(safe_fetch.unusable("metrics URL"))  # identical for every kind: no port probing
    assert len(message) <= 100 and "SECRET" not in message and "root" not in message
    assert time.monotonic() - t0 < 2.5  # short timeouts, even against a server that hangs


def test_prometheus_failures_read_the_same_and_stop_at_the_first_request(server):
    client = PrometheusClient(server.url.rsplit("/", 1)[0], timeout_s=0.5)
    with pytest.raises(TelemetryError) as info:
        client.query("up")
    assert str(info.value) == str(safe_fetch.unusable("Prometheus URL")) and "SECRET" not in str(info.value)
    assert server.requests == 1


def test_a_hostname_pointing_at_loopback_needs_the_address_listed(server):
    safe_fetch.configure("localhost,127.0.0.1")
    assert safe_fetch.fetch(server.url.replace("127.0.0.1", "localhost")) == SECRET
