"""Flask app with one endpoint per outcome and per way of answering.

REDAPP_WORK_MS sets the work per request of /ok, /missing and /boom (default 5 ms).
"""
import os
import tempfile
import time

from flask import Flask, Response, abort, request

WORK_S = float(os.environ.get("REDAPP_WORK_MS", "5")) / 1000.0
BIG = 10 * 1024 * 1024
# every RFC 9110 method and PATCH; werkzeug answers HEAD itself, from GET
METHODS = ["GET", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

app = Flask(__name__)
_big_file = None


@app.after_request
def echo_path(response):
    # lets load generators attribute each response to its request exactly
    response.headers["X-Path"] = request.path
    return response


def work():
    time.sleep(WORK_S)


@app.route("/ok")
def ok():
    work()
    return "ok\n"


@app.route("/missing")
def missing():
    work()
    abort(404)


@app.route("/boom")
def boom():
    work()
    raise RuntimeError("boom: the 500 endpoint")


@app.route("/sleep")
def sleep():
    """Takes as long as asked: ?ms=N."""
    time.sleep(float(request.args.get("ms", "0")) / 1000.0)
    return "slept\n"


@app.route("/echo", methods=["POST", "PUT"])
def echo():
    """Reads the whole body, however it was framed, and says how long it was."""
    return "%d\n" % len(request.get_data())


@app.route("/stream")
def stream():
    """A response without a length: chunked, one chunk per piece."""
    pieces = int(request.args.get("pieces", "5"))
    return Response((("piece %d\n" % i) for i in range(pieces)), mimetype="text/plain")


@app.route("/big")
def big():
    """10 MiB written from memory."""
    return Response(b"x" * BIG, mimetype="application/octet-stream")


@app.route("/file")
def file():
    """10 MiB from a file: gunicorn sends it with sendfile()."""
    global _big_file
    if _big_file is None:
        fd, _big_file = tempfile.mkstemp(prefix="redapp-big-")
        os.write(fd, b"y" * BIG)
        os.close(fd)
    f = open(_big_file, "rb")
    return Response(request.environ["wsgi.file_wrapper"](f), mimetype="application/octet-stream",
                    headers={"Content-Length": str(BIG)}, direct_passthrough=True)


@app.route("/nocontent", methods=["GET", "POST", "DELETE"])
def nocontent():
    return "", 204


@app.route("/any", methods=METHODS)
def any_method():
    return "%s\n" % request.method
