"""How long the local catalog takes to replace a changed file's lexical rows and to remove a
file, on a copy of a store's catalog (the store itself is not touched).

    python -m devtools.bench_catalog STORE_DIR [--files 20] [--json]

Use it on a large store, e.g. the one ``make bench-scale --work DIR`` leaves in ``DIR/store``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rag.catalog import CATALOG_NAME, Catalog


def bench(store: Path, files: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory(prefix="rag-bench-catalog-") as scratch:
        for suffix in ("", "-wal"):  # with what a writer has not checkpointed yet
            if (store / f"{CATALOG_NAME}{suffix}").is_file():
                shutil.copy2(store / f"{CATALOG_NAME}{suffix}", Path(scratch) / f"{CATALOG_NAME}{suffix}")
        t0 = time.perf_counter()
        catalog = Catalog(Path(scratch))  # fills what an older catalog lacks, once
        open_s = time.perf_counter() - t0
        try:
            records = sorted(catalog.files().values(), key=lambda r: r.source)
            changed, removed = records[:files], records[files:files + files // 2]
            commit_ms, remove_ms = [], []
            for record in changed:
                chunks = [(f"{record.source}-changed-{i}", "A changed paragraph about invoices.")
                          for i in range(record.chunks)]
                t0 = time.perf_counter()
                catalog.commit_file(dataclasses.replace(record, sha256="changed"), chunks)
                commit_ms.append(1000 * (time.perf_counter() - t0))
            for record in removed:
                t0 = time.perf_counter()
                catalog.remove_file(record.source)
                remove_ms.append(1000 * (time.perf_counter() - t0))
            chunks_total = catalog.chunk_count()
        finally:
            catalog.close()
    return {"chunks": chunks_total, "open_s": round(open_s, 3),
            "changed_files": len(commit_ms), "changed_ms_median": round(statistics.median(commit_ms), 1),
            "removed_files": len(remove_ms), "removed_ms_median": round(statistics.median(remove_ms), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_catalog", description=__doc__)
    parser.add_argument("store", type=Path)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (args.store / CATALOG_NAME).is_file() or args.files < 2:
        print(f"error: {args.store} has no {CATALOG_NAME} (give a store folder that has been "
              "ingested into) or --files is below 2", file=sys.stderr)
        return 2
    result = bench(args.store, args.files)
    print(f"catalog of {result['chunks']:,} chunks: opened in {result['open_s']:.3f} s; a changed "
          f"file {result['changed_ms_median']} ms, a removed one {result['removed_ms_median']} ms "
          f"(medians of {result['changed_files']} and {result['removed_files']})")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
