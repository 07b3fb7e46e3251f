"""A database stand-in that speaks no HTTP: a thread per connection answers each read
with "+PONG\r\n", as Redis answers a PING. Usage: resp_sink.py PORT"""
import socket
import sys
import threading


def serve(conn):
    with conn:
        while conn.recv(65536):
            conn.sendall(b"+PONG\r\n")


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen(64)
while True:
    threading.Thread(target=serve, args=(listener.accept()[0],), daemon=True).start()
