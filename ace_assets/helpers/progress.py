"""Progress of long steps in the Dagster log: frames done / total and frames per second."""

import time
from collections.abc import Callable

import dagster as dg


def frame_progress(
    context: dg.AssetExecutionContext, step: str, every_s: float = 5.0
) -> Callable[[int, int], None]:
    """A `progress(done, total)` callback that logs at most every `every_s` seconds, and at the end."""
    t0 = time.perf_counter()
    last = [-every_s]

    def report(done: int, total: int) -> None:
        now = time.perf_counter() - t0
        if now - last[0] >= every_s or done >= total:
            last[0] = now
            fps = done / now if now > 0 else float("nan")
            context.log.info(
                f"{step}: {done}/{total} frames ({100 * done / max(total, 1):.0f} %), {fps:.0f} frames/s"
            )

    return report
