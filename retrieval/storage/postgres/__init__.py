"""PostgreSQL + pgvector backend (needs the ``postgres`` extra: psycopg, psycopg-pool, pgvector)."""
