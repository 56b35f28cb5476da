"""Latency agent: raw terminal, echoes each line it reads with the time it wrote it.

Reads from stdin; for each complete line "TOKEN\\n" writes "TOKEN <monotonic_ns>\\n" in one
write(2). Raw mode: no kernel echo, no CR/NL translation, so the output is exactly that.
"""
import os
import sys
import time
import termios
import tty

if os.isatty(0):
    tty.setraw(0, termios.TCSANOW)  # not TCSAFLUSH: input typed before this must not be lost
pending = b""
while True:
    data = os.read(0, 65536)
    if not data:
        break
    pending += data
    while b"\n" in pending:
        line, pending = pending.split(b"\n", 1)
        if line == b"quit":
            sys.exit(0)
        os.write(1, line + b" " + str(time.monotonic_ns()).encode() + b"\n")
