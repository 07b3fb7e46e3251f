"""A client that sends exactly the bytes a test asks for and reads the responses one by
one from a single buffer, so that pipelined responses are never lost between two
readers (http.client gives each response its own buffer)."""
import socket
import time


class Conn:
    """One connection. A slow reader (pause: seconds before each read of at most
    read_size bytes, into a small receive buffer) makes the server queue its writes."""

    def __init__(self, port, timeout=30, pause=0.0, read_size=65536):
        self.sock = socket.socket()
        self.sock.settimeout(timeout)
        if pause:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.pause, self.read_size = pause, read_size
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.pause:
            time.sleep(self.pause)
        chunk = self.sock.recv(self.read_size)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, method="GET"):
        """(status, headers, body) of the next final response; interim ones skipped."""
        while True:
            status = int(self._line().split()[1])
            headers = {}
            while True:
                line = self._line()
                if not line:
                    break
                name, value = line.split(b":", 1)
                headers[name.strip().lower().decode()] = value.strip().decode()
            if status >= 200 or status == 101:
                break
        if method == "HEAD" or status in (101, 204, 304) or (method == "CONNECT" and status < 300):
            return status, headers, b""
        if "chunked" in headers.get("transfer-encoding", ""):
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if not size:
                    while self._line():
                        pass
                    return status, headers, body
                body += self._take(size)
                self._take(2)
        if "content-length" in headers:
            return status, headers, self._take(int(headers["content-length"]))
        while True:  # until the server closes
            try:
                self._fill()
            except EOFError:
                body, self.buf = self.buf, b""
                return status, headers, body

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def request(method, path, body=b"", headers=()):
    """The bytes of one HTTP/1.1 request."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: test"] + list(headers)
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(method, path, pieces):
    """The bytes of a request whose body is sent in chunks of the given pieces."""
    head = ("%s %s HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
            % (method, path)).encode()
    return head + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
