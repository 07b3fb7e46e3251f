"""Flask app whose views call another HTTP service, as a service calls its dependencies.

CALLEE is the base URL of the service called (http://localhost:PORT, https://...).
  /fan?to=PATH&n=N      N calls of CALLEE+PATH through one requests session (its
                        keep-alive pool), the statuses they got as the answer
  /urllib?to=PATH       one call of CALLEE+PATH through urllib (a connection each)
  /post?n=BYTES         one POST of an N-byte body to CALLEE/echo
  /db?n=N               N round trips of a Redis PING ("*1\r\n$4\r\nPING\r\n") on one
                        kept connection to DATABASE (HOST:PORT): traffic that is no HTTP
"""
import os
import socket
import ssl
import urllib.error
import urllib.request

import requests
from flask import Flask, request

CALLEE = os.environ["CALLEE"]
VERIFY = False  # the tests' own certificates

app = Flask(__name__)
session = requests.Session()
_insecure = ssl.create_default_context()
_insecure.check_hostname = False
_insecure.verify_mode = ssl.CERT_NONE


@app.route("/fan")
def fan():
    to, n = request.args["to"], int(request.args.get("n", "1"))
    codes = [session.get(CALLEE + to, verify=VERIFY, timeout=10).status_code for _ in range(n)]
    return " ".join(map(str, codes)) + "\n"


@app.route("/urllib")
def via_urllib():
    try:
        with urllib.request.urlopen(CALLEE + request.args["to"], timeout=10,
                                    context=_insecure if CALLEE.startswith("https") else None) as r:
            return "%d\n" % r.status
    except urllib.error.HTTPError as e:
        return "%d\n" % e.code


@app.route("/post")
def post():
    body = b"x" * int(request.args["n"])
    return "%d\n" % session.post(CALLEE + "/echo", data=body, verify=VERIFY, timeout=10).status_code


_db = None


@app.route("/db")
def db():
    global _db
    if _db is None:
        host, port = os.environ["DATABASE"].rsplit(":", 1)
        _db = socket.create_connection((host, int(port)), timeout=10)
    for _ in range(int(request.args.get("n", "1"))):
        _db.sendall(b"*1\r\n$4\r\nPING\r\n")
        if _db.recv(64) != b"+PONG\r\n":
            raise RuntimeError("the database did not answer PONG")
    return "ok\n"

