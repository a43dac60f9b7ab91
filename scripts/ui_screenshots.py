"""Screenshots of the Dagster UI (asset graph, one asset's partitions page) by headless Chromium.

Playwright's Python package drives Debian's Chromium through `executable_path` (no browser download).

    python scripts/ui_screenshots.py --url http://127.0.0.1:3000 --out docs/   # a running webserver
    python scripts/ui_screenshots.py --serve --out docs/                        # serve the demo instance

`--serve` starts `dagster dev` on the demo instance (`$DAGSTER_HOME`, by default `.dagster_home`, which
`bash scripts/demo.sh` fills), takes the screenshots and stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Without the background-networking flags Chromium keeps dialling Google hosts this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
TIMEOUT_S = 60.0
# The `parameters` group (one observed source per parameter set, ~15 nodes) stays a single collapsed
# node: expanded, it dwarfs the processing chain and the fitted graph becomes unreadable.
COLLAPSED_GROUPS = ("parameters",)
# Asset names short enough to be drawn untruncated at fit-to-screen zoom, one per stage of the chain.
# The graph only renders nodes inside the viewport, so all of them in the page text = all in view.
GRAPH_ASSETS = (
    "raw_neuralynx",
    "lfp_phase",
    "t_ca_im",
    "cropped_movie",
    "cnmfe_estimates",
    "phase_histograms",
)
GRAPH_GROUPS = ("raw", "ephys", "sync", "miniscope", "cnmfe", "phase_locking", "parameters")
# Run in the page before Dagster's scripts, in a throw-away browser profile:
# - `communityNux` marks the "Join the Dagster community" dialog as seen in this browser. Clicking its
#   "Skip" instead would also write `.nux/nux.yaml` into the served instance's DAGSTER_HOME;
# - the left navigation is collapsed and the lineage is laid out top to bottom, which fits a wide
#   screen (left to right, the expanded graph is much taller than wide).
INIT_SCRIPT = """
window.localStorage.setItem('communityNux', JSON.stringify('1'));
window.localStorage.setItem('dagster-nav-collapsed', 'true');
window.localStorage.setItem('asset-graph-direction', JSON.stringify('vertical'));
"""
ASSET_GROUPS_Q = "{ assetNodes { groupName } }"


class ScreenshotError(RuntimeError):
    """The UI never showed what a screenshot waits for (a debug screenshot is saved next to the output)."""


def chromium_path() -> str:
    """Debian's Chromium: `$ACE_CHROMIUM`, else `chromium` on PATH."""
    path = os.environ.get("ACE_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise ScreenshotError("Chromium not found: run scripts/setup_system.sh (Debian package `chromium`)")
    return path


def _asset_groups(url: str, timeout_s: float = TIMEOUT_S) -> list[str]:
    """The asset groups of the served code locations; waits until they have loaded."""
    body = json.dumps({"query": ASSET_GROUPS_Q}).encode()
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while True:
        headers = {"Content-Type": "application/json"}
        req = urllib.request.Request(f"{url}/graphql", data=body, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                payload = json.loads(resp.read())
            groups = sorted({n["groupName"] for n in (payload.get("data") or {}).get("assetNodes") or []})
            if groups:
                return groups
            last = json.dumps(payload)[:500]
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = repr(exc)
        if time.monotonic() > deadline:
            raise ScreenshotError(f"{url}/graphql lists no assets after {timeout_s:.0f} s: {last}")
        time.sleep(1)


def _fail(page: Any, out_dir: Path, what: str) -> ScreenshotError:
    debug = out_dir / "screenshot_debug.png"
    with contextlib.suppress(Exception):
        page.screenshot(path=str(debug))
    return ScreenshotError(f"{what} on {page.url} (page as it was: {debug})")


def _wait_visible(page: Any, locator: Any, what: str, out_dir: Path, timeout_s: float = TIMEOUT_S) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        locator.first.wait_for(state="visible", timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        raise _fail(page, out_dir, f"{what} not visible after {timeout_s:.0f} s") from None


def _dismiss_dialog(page: Any) -> None:
    # Fallback should a Dagster upgrade rename the localStorage key INIT_SCRIPT sets (the dialog opens
    # 1 s after the page renders, so this runs just before a screenshot).
    if page.get_by_text("Join the Dagster community").is_visible():
        page.get_by_text("Skip", exact=True).click()
        page.wait_for_timeout(500)


def _visible_lines(page: Any) -> list[str]:
    return [line.strip() for line in page.inner_text("body").splitlines() if line.strip()]


def _shoot_graph(page: Any, url: str, out_dir: Path) -> Path:
    expand = [g for g in _asset_groups(url) if g not in COLLAPSED_GROUPS]
    # `expanded` takes the graph's group ids (`global@global:<group>` in the global lineage of 1.13).
    query = urllib.parse.urlencode({"expanded": ",".join(f"global@global:{g}" for g in expand)})
    page.goto(f"{url}/asset-groups?{query}", wait_until="domcontentloaded")
    for name in GRAPH_ASSETS:
        _wait_visible(page, page.get_by_text(name, exact=True), f"asset graph node {name!r}", out_dir)
    # Hide the group tree (open by default, not remembered), then double-click the graph's background:
    # its own "zoom to fit", now for the wider viewport. Dispatched on the <svg>, so no node is hit.
    page.locator("button:has([aria-label='panel_show_right'])").first.click()
    page.wait_for_timeout(500)
    page.locator("svg[class*='svgContainer']").first.dispatch_event("dblclick")
    page.wait_for_timeout(1500)  # the zoom is animated
    missing = [name for name in GRAPH_ASSETS if not page.get_by_text(name, exact=True).first.is_visible()]
    if missing:
        raise _fail(page, out_dir, f"asset graph nodes {missing} out of view after zoom to fit")
    _dismiss_dialog(page)
    path = out_dir / "asset_graph.png"
    page.screenshot(path=str(path))
    return path


def _shoot_partitions(page: Any, url: str, out_dir: Path, asset: str, partition: str | None) -> Path:
    params = {"view": "partitions"} | ({"partition": partition} if partition is not None else {})
    route = f"{url}/assets/{urllib.parse.quote(asset)}?{urllib.parse.urlencode(params)}"
    page.goto(route, wait_until="domcontentloaded")
    rows = page.locator("[class*='assetListRow'] [title]")
    _wait_visible(page, rows, f"partition keys of {asset}", out_dir)
    if partition is not None:
        row = page.locator(f"[class*='assetListRow'] [title={json.dumps(partition)}]")
        _wait_visible(page, row, f"row of partition {partition!r}", out_dir)
        # The right pane has loaded the partition's materializations (it says "(0)" while loading).
        events = page.get_by_text(re.compile(r"^View all historical events \([1-9]"))
        _wait_visible(page, events, f"materializations of partition {partition!r}", out_dir)
    page.wait_for_timeout(1000)
    _dismiss_dialog(page)
    path = out_dir / "asset_partitions.png"
    page.screenshot(path=str(path))
    return path


def take_screenshots(
    url: str,
    out_dir: Path,
    asset: str = "t_ca_im",
    partition: str | None = None,
    *,
    page_text: dict[str, list[str]] | None = None,
) -> dict[str, Path]:
    """PNGs of the global asset lineage and of `asset`'s partitions page (with `partition` selected).

    Returns {"asset_graph": path, "asset_partitions": path}. `page_text`, when given, receives the
    visible text lines of each page under the same keys, so that a test can check what was on screen.
    """
    from playwright.sync_api import sync_playwright

    url = url.rstrip("/")
    out_dir.mkdir(parents=True, exist_ok=True)
    shots: dict[str, Path] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.add_init_script(INIT_SCRIPT)
            context.set_default_timeout(TIMEOUT_S * 1000)
            page = context.new_page()
            shots["asset_graph"] = _shoot_graph(page, url, out_dir)
            if page_text is not None:
                page_text["asset_graph"] = _visible_lines(page)
            shots["asset_partitions"] = _shoot_partitions(page, url, out_dir, asset, partition)
            if page_text is not None:
                page_text["asset_partitions"] = _visible_lines(page)
        finally:
            browser.close()
    return shots


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _restore_default_sigint() -> None:  # runs in the child before exec
    # dagster maps SIGTERM to its SIGINT handler; a child that inherited an ignored SIGINT (a parent
    # started with `&` from a non-interactive shell) would then ignore both.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def serve_demo_instance(timeout_s: float = 120) -> Iterator[str]:
    """`dagster dev` on the demo instance; yields its URL, stops it (and its children) afterwards."""
    home = Path(os.environ.get("DAGSTER_HOME") or REPO / ".dagster_home")
    if not (home / "dagster.yaml").exists():
        raise ScreenshotError(f"no demo instance at {home}: run `bash scripts/demo.sh` first")
    dagster = Path(sys.executable).parent / "dagster"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with tempfile.TemporaryDirectory(prefix="ace_ui_") as tmp:
        log_path = Path(tmp) / "dagster_dev.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=REPO,
                env={**os.environ, "DAGSTER_HOME": str(home)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: webserver, daemon and code server
                preexec_fn=_restore_default_sigint,
            )
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                with contextlib.suppress(OSError):
                    with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise ScreenshotError(f"`dagster dev` did not serve {url} in {timeout_s:.0f} s:\n{tail}")
                time.sleep(1)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running webserver, e.g. http://127.0.0.1:3000")
    parser.add_argument("--serve", action="store_true", help="serve the demo instance while shooting")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the PNGs (docs/)")
    parser.add_argument("--asset", default="t_ca_im", help="asset whose partitions page is shot")
    parser.add_argument(
        "--partition", default="2", help="partition to select (the demo's gap line); '' selects none"
    )
    args = parser.parse_args(argv)
    if bool(args.url) == args.serve:
        parser.error("give exactly one of --url or --serve")
    with serve_demo_instance() if args.serve else contextlib.nullcontext(args.url) as url:
        shots = take_screenshots(url, args.out, args.asset, args.partition or None)
    for name, path in shots.items():
        print(f"{name}: {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
