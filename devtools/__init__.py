"""Developer tooling, outside the product: evaluation (``make eval``, ``python -m rag eval``),
its metrics and report, and the benchmarks (``make bench-ingest``, ``bench-answer``,
``bench-load``). The product packages (rag, ingest, ui) never import it; the one exception is
the ``rag eval`` subcommand, which hands over to :mod:`devtools.eval`."""
