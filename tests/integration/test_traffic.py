"""Every way HTTP/1.x travels, each counted exactly: pipelining, requests trickling in
a byte at a time, bodies by length and by chunks, 100-continue, chunked and 10 MB
responses by write and by sendfile, HEAD, 204, a client leaving mid-response, and
every method."""
import collections
import http.client
import socket
import subprocess
import time

import pytest

from conftest import APPS, free_port, wait_for_total

pytestmark = pytest.mark.capture

BIG = 10 * 1024 * 1024


class Raw:
    """A client socket sending raw bytes and reading responses off one buffer, so that
    pipelined responses are read one after the other."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data)

    def response(self, method="GET"):
        """The next response: (status, body)."""
        shared = self.file

        class Unclosable:
            """The connection's buffer, which http.client must not close after a response."""

            def __getattr__(self, name):
                return getattr(shared, name)

            def close(self):
                pass

        class Sock:
            def makefile(self, mode):
                return Unclosable()

        r = http.client.HTTPResponse(Sock(), method=method)
        r.begin()
        body = r.read()
        return r.status, body

    def close(self):
        self.file.close()
        self.sock.close()


def request(method, path, headers=(), body=b""):
    head = "%s %s HTTP/1.1\r\nHost: t\r\n" % (method, path)
    for h in headers:
        head += h + "\r\n"
    if body and not any(h.lower().startswith("transfer-encoding") for h in headers):
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


def gthread(gunicorn):
    return gunicorn("redapp:app", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                    "--keep-alive", "30", env={"REDAPP_WORK_MS": "1"})


def counts_once_settled(rs, service, total):
    wait_for_total(rs, service, total)
    time.sleep(0.5)
    return rs.metrics()


def test_pipelined_requests_are_counted_one_by_one(server, redscope):
    port = free_port()
    server("node", ["node", str(APPS / "server.js"), str(port)], port)
    rs = redscope()
    c = Raw(port)
    # five requests in one write; node answers them in order
    c.send(request("GET", "/ok") * 3 + request("POST", "/echo", body=b"12345") + request("GET", "/nope"))
    answers = [c.response() for _ in range(5)]
    assert [a[0] for a in answers] == [200, 200, 200, 200, 404]
    c.close()
    m = counts_once_settled(rs, "server", 5)
    assert m.request_counts("server") == {("/ok", "GET", 200): 3, ("/echo", "POST", 200): 1,
                                          ("/nope", "GET", 404): 1}
    assert m.value("http_server_request_body_size_bytes_sum", service_name="server",
                   http_route="/echo") == 5


def test_pipelined_responses_written_at_once_are_counted_one_by_one(server, redscope):
    port = free_port()
    server("batching", ["node", str(APPS / "batching.js"), str(port)], port)
    rs = redscope()
    c = Raw(port)
    c.send(request("GET", "/ok") * 4 + request("GET", "/gone") * 2)  # one write; one answer
    assert [c.response()[0] for _ in range(6)] == [200] * 4 + [404] * 2
    c.close()
    m = counts_once_settled(rs, "batching", 6)
    assert m.request_counts("batching") == {("/ok", "GET", 200): 4, ("/gone", "GET", 404): 2}


def test_requests_split_across_many_small_reads(gunicorn, redscope):
    app = gthread(gunicorn)
    rs = redscope()
    c = Raw(app.port)
    for _ in range(3):
        for byte in request("GET", "/ok?x=1", ["User-Agent: slow-client"]):
            c.send(bytes([byte]))
            time.sleep(0.002)  # each byte its own segment: the server reads one at a time
        assert c.response()[0] == 200
    c.close()
    m = counts_once_settled(rs, "redapp", 3)
    assert m.request_counts("redapp") == {("/ok", "GET", 200): 3}


def test_request_bodies_by_length_by_chunks_and_after_100_continue(gunicorn, redscope, tmp_path):
    app = gthread(gunicorn)
    rs = redscope()
    payload = tmp_path / "payload"
    payload.write_bytes(b"p" * 50000)
    url = app.url + "/echo"
    # Content-Length, after asking for a "100 Continue"
    out = subprocess.run(["curl", "-sv", "-H", "Expect: 100-continue", "--data-binary",
                          "@%s" % payload, url],
                         capture_output=True, text=True, check=True)
    assert out.stdout == "50000\n" and "HTTP/1.1 100 Continue" in out.stderr
    # chunked: a body of unknown length, streamed from stdin
    out = subprocess.run(["curl", "-s", "-X", "PUT", "-T", "-", "-H", "Expect:", url],
                         input=b"q" * 30000, capture_output=True, check=True)
    assert out.stdout == b"30000\n"
    c = Raw(app.port)
    c.send(request("POST", "/echo", ["Transfer-Encoding: chunked"],
                   b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n"))
    assert c.response() == (200, b"11\n")
    c.close()
    m = counts_once_settled(rs, "redapp", 3)
    # the 100 Continue is not an answer: one 200 per request
    assert m.request_counts("redapp") == {("/echo", "POST", 200): 2, ("/echo", "PUT", 200): 1}
    sizes = {s.labels["http_request_method"]: s.value
             for s in m.find("http_server_request_body_size_bytes_sum", service_name="redapp")}
    assert sizes == {"POST": 50011, "PUT": 30000}


def test_chunked_responses_and_ten_megabytes_by_write_and_by_sendfile(gunicorn, redscope):
    app = gthread(gunicorn)
    rs = redscope()
    c = Raw(app.port)
    c.send(request("GET", "/stream?pieces=7"))
    status, body = c.response()
    assert status == 200 and body.count(b"piece") == 7
    for path in ("/big", "/file"):
        c.send(request("GET", path))
        status, body = c.response()
        assert status == 200 and len(body) == BIG
    c.close()
    m = counts_once_settled(rs, "redapp", 3)
    sizes = {s.labels["http_route"]: s.value
             for s in m.find("http_server_response_body_size_bytes_sum", service_name="redapp")}
    assert sizes == {"/stream": len(body.replace(body, b"")) + sum(len("piece %d\n" % i) for i in range(7)),
                     "/big": BIG, "/file": BIG}


def test_head_and_no_content_have_no_body(gunicorn, redscope):
    app = gthread(gunicorn)
    rs = redscope()
    c = Raw(app.port)  # one keep-alive connection (gunicorn does not serve pipelining)
    for method, path, answer in (("HEAD", "/ok", (200, b"")), ("GET", "/nocontent", (204, b"")),
                                 ("DELETE", "/nocontent", (204, b"")), ("GET", "/ok", (200, b"ok\n"))):
        c.send(request(method, path))
        assert c.response(method) == answer
    c.close()
    m = counts_once_settled(rs, "redapp", 4)
    assert m.request_counts("redapp") == {("/ok", "HEAD", 200): 1, ("/nocontent", "GET", 204): 1,
                                          ("/nocontent", "DELETE", 204): 1, ("/ok", "GET", 200): 1}


def test_a_client_leaving_mid_response_counts_with_its_status(gunicorn, redscope):
    app = gthread(gunicorn)
    rs = redscope()
    c = Raw(app.port)
    c.send(request("GET", "/big"))
    c.file.read(65536)  # a little of the 10 MB, then reset the connection
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()
    m = counts_once_settled(rs, "redapp", 1)
    assert m.request_counts("redapp") == {("/big", "GET", 200): 1}
    assert m.value("redscope_responses_truncated_total") == 1
    sent = m.value("http_server_response_body_size_bytes_sum", service_name="redapp")
    assert 65536 <= sent < BIG


def test_every_method_and_the_others_as_other(gunicorn, redscope):
    app = gthread(gunicorn)
    rs = redscope()
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
               "PROPFIND", "PURGE"]
    for method in methods:
        c = Raw(app.port)
        c.send(request(method, "/any"))
        c.response(method)
        c.close()
    m = counts_once_settled(rs, "redapp", len(methods))
    counted = collections.Counter()
    for (route, method, status), n in m.request_counts("redapp").items():
        assert route == "/any"
        counted[(method, status)] += n
    # the statuses gunicorn logged, the methods as the metric contract names them
    logged = collections.Counter((mth if mth in methods[:9] else "_OTHER", status)
                                 for mth, path, status, _, _ in app.access_entries())
    assert counted == logged
    assert {mth for mth, _ in counted} == set(methods[:9]) | {"_OTHER"}
    assert counted[("_OTHER", 405)] == 2
