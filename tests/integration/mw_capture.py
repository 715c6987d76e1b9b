#!/usr/bin/env python3
"""mw_capture.py -- loopback SMTP capture server for the integration tests.

Usage: mw_capture.py DIR PORT

Listens on 127.0.0.1:PORT (PORT 0 = let the kernel pick) and stores every
accepted message in DIR as NNNNNN.eml, byte for byte as it came off the wire
with only the SMTP transparency removed (a leading "." of a line is dropped,
RFC 5321 4.5.2), and its envelope as NNNNNN.env (JSON). The .eml is written to
a temporary name and renamed only after the final "." was read, so a file
named *.eml is always a complete message: waiting for N messages is counting
files.

Why not smtp-sink -d: its dump (man smtp-sink, DUMP FILE FORMAT) prepends
X-Client-Addr/X-Mail-Args/... records and its own Received: header, appends an
empty line, and writes text lines ending in "\\n" (CR dropped), and its file is
visible while the transaction is still in progress. None of that can be undone
reliably, and the tests compare messages byte for byte.

Files written in DIR:
  port          the port actually bound (written once listening)
  sink.log      one line per SMTP event
  NNNNNN.eml    message content (CRLF line endings, exactly as received)
  NNNNNN.env    {"seq", "client", "helo", "mail_from", "mail_params",
                "rcpt_to", "size"} (addresses without <>)
  mode          optional, read at the end of every DATA: "accept" (default),
                "tempfail" (451, message discarded) or "reject" (554); lets a
                test make Postfix defer and retry.

Only the standard library is used. Stop it with SIGTERM (or SIGINT).
"""

import json
import os
import signal
import socketserver
import sys
import threading

HOSTNAME = "sink.test.example"
MAX_LINE = 1 << 20  # longer lines are read in pieces, never truncated
SIZE_LIMIT = 256 * 1024 * 1024


class State:
    def __init__(self, outdir):
        self.outdir = outdir
        self.lock = threading.Lock()
        self.seq = 0
        self.log_file = open(os.path.join(outdir, "sink.log"), "a", buffering=1)

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def log(self, msg):
        with self.lock:
            self.log_file.write(msg + "\n")

    def mode(self):
        try:
            with open(os.path.join(self.outdir, "mode"), encoding="ascii") as f:
                return f.read().strip() or "accept"
        except FileNotFoundError:
            return "accept"


def arg_of(line, verb_len):
    return line[verb_len:].strip().decode("utf-8", "surrogateescape")


def path_of(line, prefix_len):
    """'MAIL FROM:<a@b> SIZE=1' -> ('a@b', 'SIZE=1'); prefix_len covers 'MAIL FROM:'."""
    rest = arg_of(line, prefix_len)
    addr, _, params = rest.partition(" ")
    if addr.startswith("<") and addr.endswith(">"):
        addr = addr[1:-1]
    return addr, params.strip()


class Handler(socketserver.StreamRequestHandler):
    timeout = 300  # per read; a stuck client never pins a thread forever

    def reply(self, text):
        self.wfile.write(text.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self):
        st = self.server.state
        client = self.client_address[0]
        st.log(f"connect {client}:{self.client_address[1]}")
        helo, mail_from, mail_params, rcpts = None, None, "", []
        self.reply(f"220 {HOSTNAME} ESMTP mw-capture")
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line:
                st.log(f"disconnect {client}")
                return
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                helo = arg_of(line, 4)
                mail_from, rcpts = None, []
                self.wfile.write(
                    (f"250-{HOSTNAME}\r\n250-PIPELINING\r\n250-SIZE {SIZE_LIMIT}\r\n"
                     "250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n").encode("ascii"))
                self.wfile.flush()
            elif verb == b"HELO":
                helo = arg_of(line, 4)
                mail_from, rcpts = None, []
                self.reply(f"250 {HOSTNAME}")
            elif verb == b"MAIL":
                mail_from, mail_params = path_of(line, 10)  # after "MAIL FROM:"
                rcpts = []
                self.reply("250 2.1.0 Ok")
            elif verb == b"RCPT":
                if mail_from is None:
                    self.reply("503 5.5.1 Error: need MAIL command")
                    continue
                rcpts.append(path_of(line, 8)[0])  # after "RCPT TO:"
                self.reply("250 2.1.5 Ok")
            elif verb == b"DATA":
                if mail_from is None or not rcpts:
                    self.reply("503 5.5.1 Error: need RCPT command")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                if not self.receive(st, client, helo, (mail_from, mail_params), rcpts):
                    return
                mail_from, rcpts = None, []
            elif verb == b"RSET":
                mail_from, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == b"NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == b"QUIT":
                self.reply("221 2.0.0 Bye")
                st.log(f"quit {client}")
                return
            else:
                self.reply("502 5.5.2 Error: command not recognized")

    def receive(self, st, client, helo, mail, rcpts):
        """Reads DATA content up to CRLF.CRLF; returns False on EOF."""
        mail_from, mail_params = mail
        seq = st.next_seq()
        base = os.path.join(st.outdir, f"{seq:06d}")
        tmp = base + ".tmp"
        size = 0
        at_line_start = True
        with open(tmp, "wb") as out:
            while True:
                chunk = self.rfile.readline(MAX_LINE)
                if not chunk:
                    st.log(f"eof during DATA seq={seq}")
                    os.unlink(tmp)
                    return False
                if at_line_start and chunk == b".\r\n":
                    break
                if at_line_start and chunk.startswith(b"."):
                    chunk = chunk[1:]
                at_line_start = chunk.endswith(b"\n")
                out.write(chunk)
                size += len(chunk)
        mode = st.mode()
        if mode == "tempfail":
            os.unlink(tmp)
            st.log(f"tempfail seq={seq} from={mail_from} size={size}")
            self.reply("451 4.3.0 mw-capture: told to tempfail")
            return True
        if mode == "reject":
            os.unlink(tmp)
            st.log(f"reject seq={seq} from={mail_from} size={size}")
            self.reply("554 5.7.1 mw-capture: told to reject")
            return True
        env = {"seq": seq, "client": client, "helo": helo, "mail_from": mail_from,
               "mail_params": mail_params, "rcpt_to": rcpts, "size": size}
        with open(base + ".env.tmp", "w", encoding="utf-8") as f:
            json.dump(env, f)
            f.write("\n")
        os.rename(base + ".env.tmp", base + ".env")
        os.rename(tmp, base + ".eml")  # last: a visible .eml is complete
        st.log(f"stored seq={seq} from={mail_from} rcpt={','.join(rcpts)} size={size}")
        self.reply(f"250 2.0.0 Ok: queued as {seq:06d}")
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: mw_capture.py DIR PORT\n")
        return 2
    outdir, port = sys.argv[1], int(sys.argv[2])
    os.makedirs(outdir, exist_ok=True)
    server = Server(("127.0.0.1", port), Handler)
    server.state = State(outdir)
    bound = server.server_address[1]
    with open(os.path.join(outdir, "port.tmp"), "w", encoding="ascii") as f:
        f.write(f"{bound}\n")
    os.rename(os.path.join(outdir, "port.tmp"), os.path.join(outdir, "port"))
    server.state.log(f"listening 127.0.0.1:{bound} pid={os.getpid()}")

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    server.state.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
