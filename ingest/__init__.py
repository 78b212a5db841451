"""Ingestion: documents -> loaders -> splitter -> embeddings -> Chroma (+ lexical index)."""
