"""Screenshots of the Dagster UI (asset graph, one asset's partitions page) by headless Chromium.

Playwright's Python package drives Debian's Chromium through `executable_path` (no browser download).

    python scripts/ui_screenshots.py --url http://127.0.0.1:3000 --out docs/   # a running webserver
    python scripts/ui_screenshots.py --serve --out docs/                        # serve .dagster_home itself

`--serve` starts `dagster dev` on the demo instance (`DAGSTER_HOME=.dagster_home`, filled by
`bash scripts/demo.sh`), takes the screenshots and stops it.
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

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
VIEWPORT = {"width": 1500, "height": 1300}  # the expanded lineage is taller than wide
ZOOM_OUT_STEPS = 1
# Short names the graph shows untruncated at fit-to-screen zoom (long ones are elided in the middle).
GRAPH_ASSETS = ("raw_miniscope", "t_ca_im", "cropped_movie", "filtered_lfp", "event_phases")


class ScreenshotError(RuntimeError):
    pass


def chromium_path() -> str:
    path = os.environ.get("ACE_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise ScreenshotError("Chromium not found: run scripts/setup_system.sh (Debian package `chromium`)")
    return path


def _wait_for_text(page, texts: tuple[str, ...], what: str, out_dir: Path, timeout_s: float = 60) -> str:
    """Wait until the page text contains every text; return it. Saves a debug PNG on failure."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = page.inner_text("body")
        missing = [t for t in texts if t not in body]
        if not missing:
            return body
        if time.monotonic() > deadline:
            debug = out_dir / "screenshot_debug.png"
            page.screenshot(path=str(debug))
            raise ScreenshotError(
                f"{what}: {missing} not on {page.url} after {timeout_s:.0f} s (see {debug})"
            )
        page.wait_for_timeout(500)


def _dismiss_welcome(page) -> None:
    # A fresh browser profile gets Dagster's "Join the community" dialog once.
    skip = page.get_by_role("button", name="Skip")
    with contextlib.suppress(Exception):
        skip.wait_for(state="visible", timeout=5000)
        skip.click()


def take_screenshots(
    url: str, out_dir: Path, asset: str = "t_ca_im", partition: str | None = None
) -> dict[str, Path]:
    """PNG of the global asset lineage (groups expanded) and of `asset`'s partitions page.

    Returns {"asset_graph": path, "asset_partitions": path, "graph_text": ..., "partitions_text": ...}
    where the *_text entries hold the page text (for tests to check what was on screen).
    """
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    shots: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{url}/asset-groups", wait_until="networkidle", timeout=60_000)
            _dismiss_welcome(page)
            _wait_for_text(page, ("Global asset lineage",), "asset graph", out_dir)
            page.keyboard.press("Alt+e")  # "Expand all groups" (graph settings menu, shortcut ⌥E)
            page.wait_for_url("**expanded=**", timeout=30_000)
            # Reload the expanded view so it is fitted to the screen, with the side panels hidden.
            page.goto(page.url, wait_until="networkidle", timeout=60_000)
            _dismiss_welcome(page)
            with contextlib.suppress(Exception):
                page.get_by_text("Hide navigation", exact=True).click(timeout=5000)
            _wait_for_text(page, ("cropped_movie",), "expanded asset graph", out_dir)
            # Hide the group tree, then zoom out: the expanded graph is taller than the window.
            with contextlib.suppress(Exception):
                page.locator("button:has([aria-label='panel_show_right'])").first.click(timeout=5000)
            for _ in range(ZOOM_OUT_STEPS):
                page.locator("button:has([aria-label='zoom_out'])").first.click()
                page.wait_for_timeout(300)
            page.wait_for_timeout(1500)  # let the layout animation settle
            # Nodes off screen are not rendered: the whole chain in the text means it is all in view.
            shots["graph_text"] = _wait_for_text(page, GRAPH_ASSETS, "fitted asset graph", out_dir)
            shots["asset_graph"] = out_dir / "asset_graph.png"
            page.screenshot(path=str(shots["asset_graph"]))

            page.goto(f"{url}/assets/{asset}?view=partitions", wait_until="networkidle", timeout=60_000)
            _dismiss_welcome(page)
            _wait_for_text(page, ("Partitions",), "partitions page", out_dir)
            if partition is not None:
                page.get_by_text(partition, exact=True).first.click()
                _wait_for_text(page, ("Materialized",), f"partition {partition}", out_dir)
            page.wait_for_timeout(1500)
            shots["partitions_text"] = page.inner_text("body")
            shots["asset_partitions"] = out_dir / "asset_partitions.png"
            page.screenshot(path=str(shots["asset_partitions"]))
        finally:
            browser.close()
    return shots


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_demo_instance(timeout_s: float = 120) -> Iterator[str]:
    """`dagster dev` on the demo instance; yields its URL, stops it (and its children) afterwards."""
    home = REPO / ".dagster_home"
    if not (home / "dagster.yaml").exists():
        raise ScreenshotError(f"no demo instance at {home}: run `bash scripts/demo.sh` first")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # dagster maps SIGTERM to its SIGINT handler; a child inheriting an ignored SIGINT would not stop.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ScreenshotError(f"`dagster dev` did not serve {url} within {timeout_s:.0f} s")
            time.sleep(1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running webserver, e.g. http://127.0.0.1:3000")
    parser.add_argument("--serve", action="store_true", help="serve the demo instance while shooting")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--asset", default="t_ca_im")
    parser.add_argument("--partition", default="2")
    args = parser.parse_args(argv)
    if bool(args.url) == args.serve:
        parser.error("give exactly one of --url or --serve")
    with serve_demo_instance() if args.serve else contextlib.nullcontext(args.url) as url:
        shots = take_screenshots(url, args.out, args.asset, args.partition)
    for name in ("asset_graph", "asset_partitions"):
        print(f"{name}: {shots[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
