"""The embedded default backend: one SQLite file plus a FAISS index folder."""
