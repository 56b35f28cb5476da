#!/usr/bin/env python3
"""Renders a terminal capture (`tmux capture-pane -e -p`: text with SGR colour sequences) to a
PNG, cell by cell in a monospace font. Usage: ansi2png.py CAPTURE.txt OUT.png [--bg '#000000']"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
SIZE = 15
ANSI16 = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
          (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255)]


def xterm256(n):
    if n < 16:
        return ANSI16[n]
    if n < 232:
        n -= 16
        levels = [0, 95, 135, 175, 215, 255]
        return (levels[n // 36], levels[(n // 6) % 6], levels[n % 6])
    v = 8 + 10 * (n - 232)
    return (v, v, v)


def parse(text, default_fg, default_bg):
    """Yields rows of cells (char, fg, bg, bold)."""
    rows = []
    sgr = re.compile(r"\x1b\[([0-9;:]*)m")
    for line in text.split("\n"):
        fg, bg, bold, reverse = None, None, False, False
        cells = []
        pos = 0
        for m in list(sgr.finditer(line)) + [None]:
            chunk = line[pos:m.start()] if m else line[pos:]
            for ch in chunk:
                if ch == "\x1b":
                    continue
                f, b = fg or default_fg, bg or default_bg
                if reverse:
                    f, b = b, f
                cells.append((ch, f, b, bold))
            if not m:
                break
            pos = m.end()
            params = [int(p) if p.isdigit() else 0 for p in re.split("[;:]", m.group(1))] if m.group(1) else [0]
            i = 0
            while i < len(params):
                p = params[i]
                if p == 0:
                    fg, bg, bold, reverse = None, None, False, False
                elif p == 1:
                    bold = True
                elif p == 22:
                    bold = False
                elif p == 7:
                    reverse = True
                elif p == 27:
                    reverse = False
                elif 30 <= p <= 37:
                    fg = ANSI16[p - 30]
                elif 90 <= p <= 97:
                    fg = ANSI16[p - 90 + 8]
                elif 40 <= p <= 47:
                    bg = ANSI16[p - 40]
                elif 100 <= p <= 107:
                    bg = ANSI16[p - 100 + 8]
                elif p == 39:
                    fg = None
                elif p == 49:
                    bg = None
                elif p in (38, 48) and i + 1 < len(params):
                    if params[i + 1] == 5 and i + 2 < len(params):
                        colour = xterm256(params[i + 2])
                        i += 2
                    elif params[i + 1] == 2 and i + 4 < len(params):
                        colour = tuple(params[i + 2:i + 5])
                        i += 4
                    else:
                        colour = None
                    if p == 38:
                        fg = colour
                    else:
                        bg = colour
                i += 1
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def main():
    source, out = sys.argv[1], sys.argv[2]
    bg = (0, 0, 0)
    if "--bg" in sys.argv:
        h = sys.argv[sys.argv.index("--bg") + 1].lstrip("#")
        bg = tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))
    fg = (229, 229, 229) if sum(bg) < 384 else (40, 40, 40)
    rows = parse(open(source, encoding="utf-8", errors="replace").read(), fg, bg)
    regular = ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", SIZE)
    bold = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", SIZE)
    cw = round(regular.getlength("M"))
    ch = SIZE + 4
    cols = max((len(r) for r in rows), default=80)
    image = Image.new("RGB", (cols * cw + 16, len(rows) * ch + 16), bg)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(rows):
        x = 0
        for char, f, b, is_bold in row:
            wide = 2 if ord(char) >= 0x1100 and (0x2E80 <= ord(char) <= 0xA4CF or 0xAC00 <= ord(char) <= 0xD7A3 or 0xFF00 <= ord(char) <= 0xFF60) else 1
            px, py = 8 + x * cw, 8 + y * ch
            if b != bg:
                draw.rectangle([px, py, px + cw * wide - 1, py + ch - 1], fill=b)
            if "\u2500" <= char <= "\u257f":
                # Box drawing: lines through the cell's centre, so borders join.
                cx, cy = px + cw // 2, py + ch // 2
                if char in "─┌┐└┘┬┴├┤┼":
                    left = px if char in "─┐┘┬┴┤┼" else cx
                    right = px + cw if char in "─┌└┬┴├┼" else cx
                    draw.line([left, cy, right, cy], fill=f)
                if char in "│┌┐└┘├┤┬┴┼":
                    top = py if char in "│└┘├┤┴┼" else cy
                    bottom = py + ch if char in "│┌┐├┤┬┼" else cy
                    draw.line([cx, top, cx, bottom], fill=f)
            elif char != " ":
                draw.text((px, py + 1), char, font=bold if is_bold else regular, fill=f)
            x += wide
    image.save(out)


if __name__ == "__main__":
    main()
