"""An HTTP/1.1 server that closes the way Apache and nginx do (a lingering close): after
each answer it shuts down its writing, then reads and throws away whatever the client
still sends, until the client closes. One connection at a time; each answered request
logged as "METHOD PATH STATUS" on stderr. Usage: lingering.py PORT"""
import socket
import sys


def serve(port):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    while True:
        conn, _ = listener.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
            if b"\r\n\r\n" not in head:
                continue
            method, path = head.split(b" ", 2)[:2]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
            sys.stderr.write("%s %s 200\n" % (method.decode(), path.decode()))
            sys.stderr.flush()
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(4096):  # the lingering close: what comes now is never answered
                pass


if __name__ == "__main__":
    serve(int(sys.argv[1]))
