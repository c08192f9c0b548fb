"""Where papers come from: saved Hugging Face pages, JSONL corpora, the live daily-papers feed."""
