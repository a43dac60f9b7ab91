"""Component curation as data: a per-line decisions file tied to the estimates it was made on.

`<project>/curation/<line>.csv` has the columns `component_id,decision,reviewer,time,estimates_hash`
(decision `keep` or `reject`; ids are the original 0-based CNMF-E component ids). Every row must carry
the hash of the estimates the reviewer looked at: a file made on other estimates is an error, never a
silent mismatch. Components without a row keep the automatic proposal (`idx_good`: min_SNR and rval_thr),
and the result says which decisions came from whom.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ace_core.catalog import layout
from ace_core.errors import InputFormatError
from ace_core.store.atomic import atomic_file

COLUMNS = ("component_id", "decision", "reviewer", "time", "estimates_hash")
DECISIONS = ("keep", "reject")


@dataclass(frozen=True)
class CurationDecisions:
    """The decision for every unit and where it came from."""

    keep: np.ndarray  # (K,) bool per original unit position
    source: str  # "automatic proposal (min_SNR, rval_thr)" or "reviewed: <file>"
    n_reviewed: int
    reviewers: tuple[str, ...]
    path: Path | None


def read_decisions(
    path: str | Path, *, unit_ids: np.ndarray, estimates_hash: str
) -> dict[int, tuple[str, str]]:
    """{component_id: (decision, reviewer)} from a decisions file, validated against the estimates."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [
            c for c in ("component_id", "decision", "estimates_hash") if c not in (reader.fieldnames or [])
        ]
        if missing:
            raise InputFormatError(
                path, f"missing column(s) {missing}; expected {', '.join(COLUMNS)}", line=1
            )
        known = set(int(u) for u in unit_ids)
        out: dict[int, tuple[str, str]] = {}
        for lineno, row in enumerate(reader, start=2):
            if not any((v or "").strip() for v in row.values()):
                continue
            if row["estimates_hash"].strip() != estimates_hash:
                raise InputFormatError(
                    path,
                    f"decisions were made on estimates {row['estimates_hash'].strip()!r}, but the current "
                    f"cnmfe_estimates are {estimates_hash!r}: review the new estimates (or delete the file)",
                    line=lineno,
                    column="estimates_hash",
                )
            try:
                cid = int(row["component_id"])
            except ValueError:
                raise InputFormatError(
                    path,
                    f"component_id {row['component_id']!r} is not an integer",
                    line=lineno,
                    column="component_id",
                ) from None
            if cid not in known:
                raise InputFormatError(
                    path,
                    f"component_id {cid} is not in the estimates (0..{len(known) - 1})",
                    line=lineno,
                    column="component_id",
                )
            decision = row["decision"].strip().lower()
            if decision not in DECISIONS:
                raise InputFormatError(
                    path,
                    f"decision {row['decision']!r}: expected keep or reject",
                    line=lineno,
                    column="decision",
                )
            out[cid] = (decision, (row.get("reviewer") or "").strip())
    return out


def decide(
    project_path: str | Path, line: str, *, unit_ids: np.ndarray, idx_good: np.ndarray, estimates_hash: str
) -> CurationDecisions:
    """Reviewed decisions where a file exists, the automatic quality proposal for everything else."""
    keep = np.asarray(idx_good, dtype=bool).copy()
    path = layout.curation_path(project_path, line)
    if not path.exists():
        return CurationDecisions(keep, "automatic proposal (min_SNR, rval_thr)", 0, (), None)
    decisions = read_decisions(path, unit_ids=unit_ids, estimates_hash=estimates_hash)
    position = {int(u): i for i, u in enumerate(unit_ids)}
    for cid, (decision, _) in decisions.items():
        keep[position[cid]] = decision == "keep"
    reviewers = tuple(sorted({r for _, r in decisions.values() if r}))
    return CurationDecisions(keep, f"reviewed: {path.name}", len(decisions), reviewers, path)


def write_decisions(
    path: str | Path, decisions: dict[int, str], *, reviewer: str, time: str, estimates_hash: str
) -> Path:
    """Write a decisions file (what a review tool or a person saves)."""
    path = Path(path)
    with atomic_file(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for cid, decision in sorted(decisions.items()):
            w.writerow([cid, decision, reviewer, time, estimates_hash])
    return path
