"""What the documents page shows while an upload is ingested: the progress line of
``make ingest`` (:func:`ingest.progress.plain_line`), in the page's language."""

from __future__ import annotations

from ingest.progress import Snapshot, format_duration
from ui.i18n import t


def progress_text(snap: Snapshot, final: bool = False) -> str:
    """Files, chunks, their rates and the time left; with ``final``, the time it took."""
    values = {"done": f"{snap.files_done:,}", "total": f"{snap.files_total:,}",
              "chunks": f"{snap.chunks:,}", "chunk_rate": f"{snap.chunks_per_second:.1f}",
              "file_rate": f"{snap.files_per_second:.1f}"}
    if final:
        return t("ingested", time=format_duration(snap.elapsed), **values)
    if snap.eta is None:
        left = t("time_left_unknown")
    elif snap.files_done >= snap.files_total:
        left = t("last_chunks")
    else:
        left = t("time_left", time=format_duration(snap.eta))
    return t("ingesting", left=left, **values)
