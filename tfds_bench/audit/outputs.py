"""Outputs of the near-duplicate audit: the pairs CSV and the contact sheet.

matplotlib is imported only inside `write_contact_sheet`.
"""

from __future__ import annotations

import csv
import math
from typing import List, Optional, Sequence

from tfds_bench.audit.search import CandidatePair

FLAG_SEPARATOR = "+"
CSV_NAME = "near_duplicates.csv"
CONTACT_SHEET_NAME = "near_duplicates.png"
CSV_FIELDS = ("test_file", "reference_file", "l2_pixel", "embedding_distance", "ssim",
              "flagged_by")


def write_csv(pairs: Sequence[CandidatePair], path: str) -> str:
  """One row per candidate pair (``CSV_FIELDS``); ``flagged_by`` joined with '+'."""
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(CSV_FIELDS)
    for p in pairs:
      writer.writerow([p.test_file, p.reference_file, f"{p.l2_pixel:.6f}",
                       "" if math.isnan(p.embedding_distance) else f"{p.embedding_distance:.6f}",
                       "" if math.isnan(p.ssim) else f"{p.ssim:.6f}",
                       FLAG_SEPARATOR.join(p.flagged_by)])
  return path


def read_csv(path: str) -> List[CandidatePair]:
  """Pairs back from `write_csv` (without thumbnails)."""
  as_float = lambda s: float(s) if s else float("nan")
  with open(path, newline="", encoding="utf-8") as f:
    return [CandidatePair(r["test_file"], r["reference_file"], float(r["l2_pixel"]),
                          as_float(r["embedding_distance"]), as_float(r["ssim"]),
                          tuple(x for x in r["flagged_by"].split(FLAG_SEPARATOR) if x))
            for r in csv.DictReader(f)]


def write_contact_sheet(pairs: Sequence[CandidatePair], path: str, max_pairs: int = 24,
                        pairs_per_row: int = 3) -> Optional[str]:
  """A PNG grid of the closest pairs (test | reference) with their distances.

  Pairs without thumbnails are skipped; the closest (lowest score) come
  first. Returns ``path``, or None when no pair has thumbnails.
  """
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  shown = sorted((p for p in pairs if p.test_image is not None and p.reference_image is not None),
                 key=lambda p: p.score)[:max_pairs]
  if not shown:
    return None
  rows = math.ceil(len(shown) / pairs_per_row)
  columns = min(len(shown), pairs_per_row)
  figure = Figure(figsize=(3.6 * columns, 2.3 * rows), dpi=100)
  FigureCanvasAgg(figure)
  grid = figure.add_gridspec(rows, 2 * columns, wspace=0.04, hspace=0.55)
  for n, pair in enumerate(shown):
    row, col = divmod(n, pairs_per_row)
    for side, (image, name) in enumerate(((pair.test_image, pair.test_file),
                                          (pair.reference_image, pair.reference_file))):
      axes = figure.add_subplot(grid[row, 2 * col + side])
      axes.imshow(image, interpolation="nearest")
      axes.set_xticks([])
      axes.set_yticks([])
      axes.set_xlabel(_short(name), fontsize=6)
      if pair.flagged_by:
        for spine in axes.spines.values():
          spine.set_edgecolor("red")
          spine.set_linewidth(2)
    caption = (f"l2 {pair.l2_pixel:.3f}  emb {pair.embedding_distance:.3f}  "
               f"ssim {pair.ssim:.2f}\n{FLAG_SEPARATOR.join(pair.flagged_by) or 'not flagged'}")
    anchor = figure.add_subplot(grid[row, 2 * col:2 * col + 2], frameon=False)
    anchor.set_xticks([])
    anchor.set_yticks([])
    anchor.set_title(caption, fontsize=7)
  figure.suptitle("Near-duplicate candidates (test | reference); red = flagged", fontsize=9)
  figure.savefig(path, format="png")
  return path


def _short(name: str, width: int = 28) -> str:
  return name if len(name) <= width else "..." + name[-(width - 3):]
