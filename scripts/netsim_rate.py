#!/usr/bin/python3
"""Plain TCP transfer for scripts/netsim's link check.

  netsim_rate.py serve ADDRESS PORT        accepts one connection, reads to the end, replies
  netsim_rate.py send ADDRESS PORT BYTES   sends BYTES, waits for the reply, prints Gbit/s
"""
import socket
import sys
import time


def serve(address, port):
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(1)
        listener.settimeout(30)
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(60)
            while connection.recv(1 << 20):
                pass
            connection.sendall(b"k")


def send(address, port, total):
    chunk = b"\0" * (1 << 20)
    deadline = time.monotonic() + 10
    while True:  # the server may still be starting
        try:
            connection = socket.create_connection((address, port), timeout=60)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with connection:
        start = time.monotonic()
        left = total
        while left > 0:
            n = min(left, len(chunk))
            connection.sendall(chunk[:n])
            left -= n
        connection.shutdown(socket.SHUT_WR)
        connection.recv(1)  # the reply comes after the last byte has arrived
        seconds = time.monotonic() - start
    print(f"{total * 8 / seconds / 1e9:.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
