"""A gRPC server and client for the tests, with python3-grpcio and no generated code:
the methods take and return raw bytes.

    python3 grpc_app.py serve PORT [--tls CERT KEY]
    python3 grpc_app.py call PORT [--tls CERT] SCRIPT   (JSON: [[kind, method, n, arg], ...])
    python3 grpc_app.py loop PORT SCRIPT                 the script again and again, until killed

Methods of the service shop.Cart:
  Add      unary; the request's bytes say the outcome: b"ok", b"notfound" (NOT_FOUND with a
           grpc-message), b"slow" (sleeps 3 s, past the caller's deadline of 1 s), b"crash"
           (grpcio answers an exception UNKNOWN), b"big" (a 100 KB answer)
  List     server streaming: as many answers as the request's number
  Upload   client streaming: one answer after the whole stream
  Chat     bidirectional: one answer per request
The client prints what each call ended with, as JSON: {"method/outcome": count}. A script's
last step may be ["abandon", "List", n, ""]: n server streams the client reads one answer
of, then it prints and exits at once, cancelling nothing (the server's side of each ends
CANCELLED: its client went away).
"""
import json
import os
import sys
import time
from concurrent import futures

import grpc

SERVICE = "shop.Cart"


def add(request, context):
    if request == b"notfound":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such cart: a message after the status")
    if request == b"slow":
        time.sleep(3.0)
        return b"late"
    if request == b"crash":
        raise RuntimeError("boom")
    if request == b"big":
        return b"x" * 100000
    return b"added"


def list_items(request, context):
    for i in range(int(request or b"0")):
        yield b"item-%d" % i


def upload(request_iterator, context):
    return b"%d" % sum(len(r) for r in request_iterator)


def chat(request_iterator, context):
    for r in request_iterator:
        yield b"re:" + r


def serve(port, tls):
    handlers = {
        "Add": grpc.unary_unary_rpc_method_handler(add),
        "List": grpc.unary_stream_rpc_method_handler(list_items),
        "Upload": grpc.stream_unary_rpc_method_handler(upload),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    if tls:
        creds = grpc.ssl_server_credentials([(open(tls[1], "rb").read(), open(tls[0], "rb").read())])
        server.add_secure_port("127.0.0.1:%d" % port, creds)
    else:
        server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    server.wait_for_termination()


def call(port, tls, script, forever=False):
    target = "127.0.0.1:%d" % port
    if tls:
        creds = grpc.ssl_channel_credentials(open(tls, "rb").read())
        channel = grpc.secure_channel(target, creds, options=(("grpc.ssl_target_name_override", "localhost"),))
    else:
        channel = grpc.insecure_channel(target)
    outcomes = {}
    while forever:
        run_script(channel, script, outcomes)
        time.sleep(0.1)
    run_script(channel, script, outcomes)
    channel.close()
    print(json.dumps(outcomes))


def run_script(channel, script, outcomes):
    for kind, method, n, arg in script:
        path = "/%s/%s" % (SERVICE, method)
        if kind == "abandon":
            streams = [channel.unary_stream(path)(b"100000", timeout=10) for _ in range(n)]
            for it in streams:
                next(it)
            outcomes["%s/CANCELLED" % method] = outcomes.get("%s/CANCELLED" % method, 0) + n
            print(json.dumps(outcomes), flush=True)
            os._exit(0)
        for _ in range(n):
            try:
                if kind == "unary":
                    # a deadline of 1 s, of which the server sees the last tenth or more
                    # pass even when the call took a while to leave the client (an
                    # emulated guest)
                    channel.unary_unary(path)(arg.encode(), timeout=1.0 if arg == "slow" else 10)
                elif kind == "server_stream":
                    for _ in channel.unary_stream(path)(arg.encode(), timeout=10):
                        pass
                elif kind == "client_stream":
                    channel.stream_unary(path)(iter([b"a" * 1000] * int(arg)), timeout=10)
                elif kind == "bidi":
                    for _ in channel.stream_stream(path)(iter([b"hi"] * int(arg)), timeout=10):
                        pass
                elif kind == "cancel":  # a server stream the client gives up on midway
                    it = channel.unary_stream("/%s/List" % SERVICE)(b"100000", timeout=10)
                    next(it)
                    it.cancel()
                    raise grpc.RpcError()
                code = "OK"
            except grpc.RpcError as e:
                code = e.code().name if hasattr(e, "code") and callable(e.code) else "CANCELLED"
            key = "%s/%s" % (method if kind != "cancel" else "List", code)
            outcomes[key] = outcomes.get(key, 0) + 1


if __name__ == "__main__":
    args = sys.argv[1:]
    mode, port = args[0], int(args[1])
    rest = args[2:]
    if mode == "serve":
        serve(port, rest[1:3] if rest[:1] == ["--tls"] else None)
    else:
        tls = None
        if rest[:1] == ["--tls"]:
            tls, rest = rest[1], rest[2:]
        call(port, tls, json.loads(rest[0]), forever=mode == "loop")
