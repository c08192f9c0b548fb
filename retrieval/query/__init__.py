"""The query path: hybrid search, sentence scoring, the extractive responder, the digest."""
