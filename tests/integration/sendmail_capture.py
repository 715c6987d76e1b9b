#!/usr/bin/env python3
"""Minimal SMTP capture server for the integration tests (python3 stdlib only).

Listens on HOST:PORT (PORT 0 picks a free port), accepts every message and stores
each one in DIR as msg-N.eml (the DATA exactly as received, dot-unstuffed, CRLF kept)
plus msg-N.env (the envelope: HELO, MAIL FROM, RCPT TO lines). A message file appears
atomically (written as .tmp, then renamed), so a test can poll for *.eml.

  sendmail_capture.py --listen 127.0.0.1:0 --dir DIR --port-file FILE [--max-seconds N]

Writes the bound port to FILE (atomically) once listening. Exits on SIGTERM/SIGINT,
or by itself after --max-seconds (default 900) so it can never be left behind.
"""
import argparse
import os
import signal
import socket
import socketserver
import sys
import threading

MAX_LINE = 10000
MAX_MESSAGE = 50 * 1024 * 1024


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = 0

    def next(self):
        with self.lock:
            self.n += 1
            return self.n


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Handler(socketserver.StreamRequestHandler):
    timeout = 120

    def reply(self, text):
        self.wfile.write(text.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(MAX_LINE + 2)
        if not line:
            raise EOFError
        return line

    def handle(self):
        srv = self.server
        helo, mail_from, rcpts = "", None, []
        self.reply("220 capture.test.example ESMTP mailwarden test capture")
        try:
            while True:
                raw = self.readline()
                line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                verb = line[:4].upper()
                arg = line[4:].strip()
                if verb in ("EHLO", "HELO"):
                    helo, mail_from, rcpts = arg, None, []
                    if verb == "EHLO":
                        self.reply("250-capture.test.example")
                        self.reply("250-8BITMIME")
                        self.reply("250 SIZE %d" % MAX_MESSAGE)
                    else:
                        self.reply("250 capture.test.example")
                elif verb == "MAIL":
                    mail_from, rcpts = arg, []
                    self.reply("250 2.1.0 ok")
                elif verb == "RCPT":
                    if mail_from is None:
                        self.reply("503 5.5.1 MAIL first")
                    else:
                        rcpts.append(arg)
                        self.reply("250 2.1.5 ok")
                elif verb == "DATA":
                    if not rcpts:
                        self.reply("503 5.5.1 RCPT first")
                        continue
                    self.reply("354 go ahead")
                    data = bytearray()
                    while True:
                        l = self.readline()
                        if l in (b".\r\n", b".\n"):
                            break
                        if l.startswith(b"."):
                            l = l[1:]
                        data += l
                        if len(data) > MAX_MESSAGE:
                            self.reply("552 5.3.4 too big")
                            return
                    n = srv.counter.next()
                    base = os.path.join(srv.outdir, "msg-%d" % n)
                    env = "HELO %s\nMAIL %s\n" % (helo, mail_from)
                    env += "".join("RCPT %s\n" % r for r in rcpts)
                    write_atomic(base + ".env", env.encode("utf-8"))
                    write_atomic(base + ".eml", bytes(data))
                    self.reply("250 2.0.0 captured as msg-%d" % n)
                    mail_from, rcpts = None, []
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    self.reply("250 2.0.0 ok")
                elif verb == "NOOP":
                    self.reply("250 2.0.0 ok")
                elif verb == "QUIT":
                    self.reply("221 2.0.0 bye")
                    return
                else:
                    self.reply("502 5.5.2 not implemented")
        except (EOFError, ConnectionError, socket.timeout):
            return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--max-seconds", type=float, default=900)
    a = ap.parse_args()

    host, _, port = a.listen.rpartition(":")
    os.makedirs(a.dir, exist_ok=True)
    srv = Server((host, int(port)), Handler)
    srv.outdir = a.dir
    srv.counter = Counter()

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(a.max_seconds, stop)
    timer.daemon = True
    timer.start()

    if a.port_file:
        write_atomic(a.port_file, b"%d\n" % srv.server_address[1])
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
