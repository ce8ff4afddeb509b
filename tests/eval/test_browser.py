"""The leaderboard page in a real headless browser (Debian's chromium): loads with no console error, shows the
table and the plot. Keeps a screenshot in docs/leaderboard.png."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.eval.helpers import report_context

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "leaderboard.png"


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not found (make browser installs Debian's chromium)")
def test_leaderboard_html_in_headless_chromium(tmp_path):
    from eval.report import run

    ctx = report_context(tmp_path)
    run(ctx)
    page = (ctx.out / "leaderboard.html").as_uri()
    dom = chromium(tmp_path, "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<table id="leaderboard">' in dom.stdout and "merge-w050" in dom.stdout
    assert re.search(r'<img id="pareto"[^>]*src="data:image/png;base64,', dom.stdout)
    console_errors = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln and ("ERROR" in ln or "Uncaught" in ln)]
    assert console_errors == []
    shot = tmp_path / "leaderboard.png"
    res = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1400", "--hide-scrollbars", page)
    assert res.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, DOCS_SCREENSHOT)
