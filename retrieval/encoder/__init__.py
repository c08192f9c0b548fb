"""Sentence embeddings for questions and abstracts."""
