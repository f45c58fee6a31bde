"""report.html at a given width in headless Chromium: which boxes scroll sideways, and a screenshot.

The page is shown in an iframe of WIDTH px (headless Chromium keeps windows at least 500 px wide, as in
tests/pipelines/test_report.py); a script measures every element whose overflow-x is auto/scroll and whose
content is wider than itself (a box the reader must scroll sideways), the document's scroll width and height.
Prints one JSON line: width, scroll_width, height, boxes ("<box> <content px>><box px> [<table id>]"),
sections (the height in px of each of the page's top-level sections, by id) and tall_tables (tables with an id
at least 400 px tall as shown, and those inside a closed details element as 0). Session 28 (s28-ux) added the last two.

Session 26 (s26-ux), BENCHMARKS.md, hostile-inputs section:

    python benchmarks/report_width.py RUN/report.html --width 420 --png /tmp/r420.png --height 12400
"""

from __future__ import annotations

import argparse
import html as html_lib
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

PROBE = """<script>
(function () {
  var boxes = [];
  document.querySelectorAll("body *").forEach(function (el) {
    var o = getComputedStyle(el).overflowX;
    if ((o === "auto" || o === "scroll") && el.scrollWidth > el.clientWidth + 1) {
      var t = el.querySelector("table");
      boxes.push((el.id || el.className || el.tagName) + " " + el.scrollWidth + ">" + el.clientWidth +
                 " [" + (t ? t.id || t.className : "") + "]");
    }
  });
  var sections = {}, tables = {};
  document.querySelectorAll("main > section, body > header, body > nav").forEach(function (el) {
    sections[el.id || el.tagName] = Math.round(el.getBoundingClientRect().height);
  });
  document.querySelectorAll("table[id]").forEach(function (el) {
    var d = el.closest("details"), h = d && !d.open ? 0 : Math.round(el.getBoundingClientRect().height);
    if (h >= 400 || (d && !d.open)) { tables[el.id] = h; }
  });
  var out = parent.document, pre = out.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({width: document.documentElement.clientWidth,
    scroll_width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
    boxes: boxes, sections: sections, tall_tables: tables});
  out.body.appendChild(pre);
})();
</script>"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("report", type=Path, help="a run's report.html")
    parser.add_argument("--width", type=int, default=420, help="frame width in px (default 420)")
    parser.add_argument("--height", type=int, default=2400, help="frame and screenshot height in px")
    parser.add_argument("--png", type=Path, help="write a screenshot here")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    page = args.report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>")
    tmp = Path(tempfile.mkdtemp())
    frame = tmp / "frame.html"
    frame.write_text(
        '<!DOCTYPE html><html><body style="margin:0"><iframe style="border:0;width:'
        f'{args.width}px;height:{args.height}px" srcdoc="{html_lib.escape(page, quote=True)}"></iframe></body></html>',
        "utf-8",
    )
    cmd = [
        args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}", f"--window-size={max(args.width, 500)},{args.height}",
        "--dump-dom", frame.as_uri(),
    ]  # fmt: skip
    if args.png:
        cmd.insert(-2, f"--screenshot={args.png.resolve()}")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    if not found:
        raise SystemExit(f"no measurement: {done.stderr[-2000:]}")
    print(json.dumps(json.loads(html_lib.unescape(found.group(1)))))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
