#!/usr/bin/env python3
"""mw_fake_milter.py -- stands in for `mailwarden run -c CONFIG` in harness_selftest.sh.

It reads milter.socket from CONFIG (unix:/path or inet:PORT@127.0.0.1) and listens
there, but does not speak the milter protocol: every connection is closed at once, so
Postfix's milter client fails and milter_default_action applies. With
MW_FAKE_MILTER_MODE=exit it exits with status 2 before listening (a bad config).
Stops on SIGTERM. Only exercises the harness (mw_milter_start/stop), not mailwarden.
"""

import os
import re
import signal
import socket
import sys


def main():
    if len(sys.argv) != 4 or sys.argv[1:3] != ["run", "-c"]:
        sys.stderr.write("usage: mw_fake_milter.py run -c CONFIG\n")
        return 1
    with open(sys.argv[3], encoding="utf-8") as f:
        m = re.search(r'^\s+socket:\s*"?([^"\n]+)"?\s*$', f.read(), re.M)
    if not m:
        sys.stderr.write(f"{sys.argv[3]}:1: no milter.socket\n")
        return 2
    if os.environ.get("MW_FAKE_MILTER_MODE") == "exit":
        sys.stderr.write(f"{sys.argv[3]}:2: told to fail\n")
        return 2
    spec = m.group(1)
    if spec.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX)
        s.bind(spec[5:])
        # As mailwarden leaves it: group of milter.user (the MTA is a member), 0660.
        with open(sys.argv[3], encoding="utf-8") as f:
            u = re.search(r'^\s+user:\s*"?([^"\n]*)"?\s*$', f.read(), re.M)
        if u and u.group(1) and os.geteuid() == 0:
            import grp
            os.chown(spec[5:], -1, grp.getgrnam(u.group(1)).gr_gid)
        os.chmod(spec[5:], 0o660)
    else:
        port, host = spec[len("inet:"):].split("@")
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
    s.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write(f"fake milter listening on {spec}\n")
    sys.stderr.flush()
    while True:
        conn, _ = s.accept()
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
