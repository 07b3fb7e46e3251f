"""Flask app with one endpoint per outcome, each doing a few milliseconds of work.

REDAPP_WORK_MS sets the work per request (default 5 ms).
"""
import os
import time

from flask import Flask, abort, request

WORK_S = float(os.environ.get("REDAPP_WORK_MS", "5")) / 1000.0

app = Flask(__name__)


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
