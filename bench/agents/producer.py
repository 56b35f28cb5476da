"""Throughput producer: writes a data file's bytes to stdout as fast as it can.

    python3 producer.py DATA_FILE GO_FIFO DONE_FILE [WRITE_SIZE]

Loads DATA_FILE into memory, clears output post-processing on a terminal (so "\\n" stays one
byte and the log can be compared byte for byte), waits for one byte on GO_FIFO, writes
everything in WRITE_SIZE chunks (default 65536), then writes "<start> <end>" (CLOCK_MONOTONIC
seconds) to DONE_FILE.
"""
import os
import sys
import termios
import time

data_path, go_fifo, done_file = sys.argv[1:4]
write_size = int(sys.argv[4]) if len(sys.argv) > 4 else 65536
with open(data_path, "rb") as f:
    data = memoryview(f.read())
if os.isatty(1):
    attrs = termios.tcgetattr(1)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(1, termios.TCSANOW, attrs)
with open(go_fifo, "rb") as go:
    go.read(1)
start = time.monotonic()
offset, total = 0, len(data)
while offset < total:
    offset += os.write(1, data[offset:offset + write_size])
end = time.monotonic()
with open(done_file + ".tmp", "w") as f:
    f.write(f"{start} {end}\n")
os.rename(done_file + ".tmp", done_file)
