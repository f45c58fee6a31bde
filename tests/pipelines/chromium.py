"""Headless Chromium for the layout tests: a page shown in a frame of a given width, a probe script
measuring it after load and writing one JSON object into the outer page, whose DOM is dumped.

Headless Chromium keeps windows at least 500 px wide, so the page is shown in a ``width`` px frame
(srcdoc: same origin, the probe reports to the outer page)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def framed_probe(
    page: str, width: int, probe: str, tmp_path: Path, probe_id: str, height: int = 30000
) -> Any:
    """``page`` with ``probe`` (a ``<script>`` that appends ``<pre id=probe_id>JSON</pre>`` to
    ``parent.document.body``) before ``</body>``, loaded in a ``width`` px frame; the decoded JSON."""
    framed = page.replace("</body>", probe + "</body>")
    frame = tmp_path / "frame.html"
    frame.write_text(
        '<!DOCTYPE html><html><body style="margin:0"><iframe style="border:0;width:'
        f'{width}px;height:{height}px" srcdoc="{html.escape(framed, quote=True)}"></iframe></body></html>',
        "utf-8",
    )
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={max(width, 500)},2400",
        "--dump-dom", frame.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(rf'<pre id="{probe_id}">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stdout[-1000:]
    return json.loads(html.unescape(found.group(1)))
