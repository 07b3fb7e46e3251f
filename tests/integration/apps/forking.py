"""An HTTP/1.1 server whose parent accepts each connection and a forked child serves it
(socketserver.ForkingMixIn): the process that reads is not the one that accepted.
Logs each request as "METHOD PATH STATUS" on stderr. Usage: forking.py PORT"""
import http.server
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"%d\n" % status
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(200 if self.path == "/ok" else 404)

    def do_PROPFIND(self):
        self.answer(207)

    def log_request(self, code="-", size="-"):
        sys.stderr.write("%s %s %s\n" % (self.command, self.path, code))
        sys.stderr.flush()


class Server(socketserver.ForkingMixIn, http.server.HTTPServer):
    pass


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
