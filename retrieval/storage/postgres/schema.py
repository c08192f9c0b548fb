"""The PostgreSQL schema: versioned migrations, applied on start under an advisory lock.

Two processes starting at once both wait on ``pg_advisory_xact_lock``; the second finds the
migrations already applied. Each migration and its version row commit together. The vector
table depends on the embedding model's dimension, so it is created (or replaced, for another
model) when the library opens its index, under the same lock.
"""

from __future__ import annotations

import logging

import psycopg

from retrieval.storage.errors import StorageError

log = logging.getLogger(__name__)

# Advisory lock keys (one 64-bit key space per database): an arbitrary constant per purpose.
LOCK_MIGRATE = 0x70617065_0001
LOCK_INGEST = 0x70617065_0002
LOCK_NAMED = 0x70617065_1000  # + a hash of the name, for Storage.exclusive
# Two-key advisory locks (their own key space): (LOCK_FOLLOWS_OF, hash of a user id) serializes one
# user's follow additions, so the follow limit holds under concurrent processes.
LOCK_FOLLOWS_OF = 0x7061_0001

# A paper's term frequency counts title positions (weight A) twice, as FTS5's title weight 2;
# the impact is BM25's term-frequency part for that paper, with the library's mean length when it
# was written (k1 = 1.2, b = 0.75). Impacts only order each term's postings for the candidate
# prefilter; the scores returned are recomputed exactly (store.py).
POSTINGS_SQL = r"""
CREATE TABLE paper_terms (
    paper_id BIGINT NOT NULL,
    lexeme TEXT NOT NULL,
    impact REAL NOT NULL,
    PRIMARY KEY (paper_id, lexeme)
);
CREATE INDEX paper_terms_impact ON paper_terms (lexeme, impact DESC) INCLUDE (paper_id);
-- How many papers hold each lexeme: BM25's document frequency, exact, read in one query.
CREATE TABLE term_stats (lexeme TEXT PRIMARY KEY, df INTEGER NOT NULL);
-- One row: the paper count and total length (BM25's N and mean document length).
CREATE TABLE lexical_totals (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    papers BIGINT NOT NULL,
    length BIGINT NOT NULL
);

CREATE FUNCTION paperbot_term_impact(weights TEXT[], doc_len INTEGER, mean_len DOUBLE PRECISION)
RETURNS REAL LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- One expression (no FROM), so the planner inlines it: millions of postings are written in bulk.
    SELECT ((cardinality(weights) + cardinality(array_positions(weights, 'A')))::float8 * 2.2
        / ((cardinality(weights) + cardinality(array_positions(weights, 'A')))
           + 1.2 * (0.25 + 0.75 * doc_len / GREATEST(mean_len, 1.0))))::real
$$;

-- New papers: their postings in, lexeme counts and totals up.
CREATE FUNCTION paperbot_terms_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lexical_totals SET papers = papers + t.n, length = length + t.len
    FROM (SELECT COUNT(*) AS n, COALESCE(SUM(doc_len), 0) AS len FROM new_rows) t;
    WITH added AS (
        INSERT INTO paper_terms (paper_id, lexeme, impact)
        SELECT r.id, u.lexeme, paperbot_term_impact(u.weights, r.doc_len, m.length::float8 / GREATEST(m.papers, 1))
        FROM new_rows r, unnest(r.tsv) u, lexical_totals m
        RETURNING lexeme
    )
    INSERT INTO term_stats AS s (lexeme, df)
    SELECT lexeme, COUNT(*) FROM added GROUP BY lexeme ORDER BY lexeme
    ON CONFLICT (lexeme) DO UPDATE SET df = s.df + excluded.df;
    RETURN NULL;
END $$;

-- Papers whose text changed: old postings out, counts down; then the new ones in.
CREATE FUNCTION paperbot_terms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (
        SELECT o.id, o.doc_len AS old_len, n.doc_len AS new_len FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE n.tsv IS DISTINCT FROM o.tsv OR n.doc_len IS DISTINCT FROM o.doc_len
    ), totals AS (
        UPDATE lexical_totals SET length = length + t.delta
        FROM (SELECT COALESCE(SUM(new_len - old_len), 0) AS delta FROM changed) t
    ), gone AS (
        DELETE FROM paper_terms t USING changed c WHERE t.paper_id = c.id RETURNING t.lexeme
    )
    UPDATE term_stats s SET df = s.df - g.n
    FROM (SELECT lexeme, COUNT(*) AS n FROM gone GROUP BY lexeme) g WHERE s.lexeme = g.lexeme;
    WITH added AS (
        INSERT INTO paper_terms (paper_id, lexeme, impact)
        SELECT n.id, u.lexeme, paperbot_term_impact(u.weights, n.doc_len, m.length::float8 / GREATEST(m.papers, 1))
        FROM new_rows n JOIN old_rows o ON o.id = n.id, unnest(n.tsv) u, lexical_totals m
        WHERE n.tsv IS DISTINCT FROM o.tsv OR n.doc_len IS DISTINCT FROM o.doc_len
        RETURNING lexeme
    )
    INSERT INTO term_stats AS s (lexeme, df)
    SELECT lexeme, COUNT(*) FROM added GROUP BY lexeme ORDER BY lexeme
    ON CONFLICT (lexeme) DO UPDATE SET df = s.df + excluded.df;
    RETURN NULL;
END $$;

-- Deleted papers: their postings out, counts and totals down.
CREATE FUNCTION paperbot_terms_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lexical_totals SET papers = papers - t.n, length = length - t.len
    FROM (SELECT COUNT(*) AS n, COALESCE(SUM(doc_len), 0) AS len FROM old_rows) t;
    WITH gone AS (
        DELETE FROM paper_terms t USING old_rows o WHERE t.paper_id = o.id RETURNING t.lexeme
    )
    UPDATE term_stats s SET df = s.df - g.n
    FROM (SELECT lexeme, COUNT(*) AS n FROM gone GROUP BY lexeme) g WHERE s.lexeme = g.lexeme;
    RETURN NULL;
END $$;

CREATE TRIGGER papers_terms_insert AFTER INSERT ON papers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION paperbot_terms_added();
CREATE TRIGGER papers_terms_update AFTER UPDATE ON papers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION paperbot_terms_changed();
CREATE TRIGGER papers_terms_delete AFTER DELETE ON papers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION paperbot_terms_removed();

-- The papers already stored.
INSERT INTO lexical_totals (papers, length) SELECT COUNT(*), COALESCE(SUM(doc_len), 0) FROM papers;
INSERT INTO paper_terms (paper_id, lexeme, impact)
SELECT p.id, u.lexeme, paperbot_term_impact(u.weights, p.doc_len, m.length::float8 / GREATEST(m.papers, 1))
FROM papers p, unnest(p.tsv) u, lexical_totals m;
INSERT INTO term_stats (lexeme, df) SELECT lexeme, COUNT(*) FROM paper_terms GROUP BY lexeme;
-- Search reads postings now; the full-text GIN index only cost writes.
DROP INDEX papers_tsv;
"""

# Each entry upgrades the schema by one version; never edit a shipped entry, append.
MIGRATIONS: tuple[str, ...] = (
    # v1: papers, their days, full-text search, bot state, library metadata. The extensions go to
    # public whatever the search path (a scratch schema dropped later must not take them along).
    r"""
    CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;
    CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
    CREATE TABLE papers (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        ext_id TEXT NOT NULL UNIQUE,
        arxiv_id TEXT UNIQUE,
        title TEXT NOT NULL,
        norm_title TEXT NOT NULL,
        abstract TEXT NOT NULL,
        url TEXT,
        authors JSONB NOT NULL DEFAULT '[]',
        author_count INTEGER,
        published DATE,
        upvotes INTEGER,
        github TEXT,
        project_page TEXT,
        source TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        added_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        -- Title weighted above abstract (A > B), english stemming, as FTS5's title weight 2.
        tsv TSVECTOR GENERATED ALWAYS AS (
            setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', abstract), 'B')
        ) STORED,
        -- Words in title and abstract: the document length of BM25, as FTS5 counts it.
        doc_len INTEGER GENERATED ALWAYS AS (
            COALESCE(array_length(regexp_split_to_array(btrim(title || ' ' || abstract), '\s+'), 1), 0)
        ) STORED
    );
    CREATE INDEX papers_norm_title ON papers (norm_title);
    CREATE INDEX papers_norm_title_trgm ON papers USING gin (norm_title gin_trgm_ops);
    CREATE INDEX papers_tsv ON papers USING gin (tsv);
    CREATE TABLE paper_days (
        paper_id BIGINT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
        day DATE NOT NULL,
        PRIMARY KEY (paper_id, day)
    );
    CREATE INDEX paper_days_day ON paper_days (day);
    CREATE TABLE guild_settings (
        guild_id BIGINT PRIMARY KEY,
        channel_id BIGINT NOT NULL,
        post_time TEXT NOT NULL,
        timezone TEXT NOT NULL,
        topics JSONB NOT NULL DEFAULT '[]',
        enabled BOOLEAN NOT NULL DEFAULT TRUE,
        last_error TEXT,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    -- One row per channel and day: the primary key is what makes a digest post once.
    CREATE TABLE digest_log (
        channel_id BIGINT NOT NULL,
        day DATE NOT NULL,
        status TEXT NOT NULL,
        message_id BIGINT,
        claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (channel_id, day)
    );
    CREATE TABLE feedback (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        question TEXT NOT NULL,
        paper_ext_id TEXT NOT NULL DEFAULT '',
        user_id BIGINT NOT NULL,
        vote SMALLINT NOT NULL CHECK (vote IN (-1, 1)),
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (question, paper_ext_id, user_id)
    );
    CREATE TABLE library_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    -- Bumped by every write to papers or vectors: other processes compare it to drop their caches.
    INSERT INTO library_meta (key, value) VALUES ('papers_version', '0');
    """,
    # v2: weekly digests (as SQLite's v3).
    """
    ALTER TABLE guild_settings ADD COLUMN frequency TEXT NOT NULL DEFAULT 'daily';
    ALTER TABLE guild_settings ADD COLUMN weekday SMALLINT;
    """,
    # v3: the role allowed to add papers, follows and their DMs (as SQLite's v3). The primary keys
    # decide the DM rules: one follow_dm_log row per user and day, one follow_sent row per user and paper.
    """
    CREATE TABLE library_roles (
        guild_id BIGINT PRIMARY KEY,
        role_id BIGINT NOT NULL
    );
    CREATE TABLE follows (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        user_id BIGINT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('topic', 'author')),
        value TEXT NOT NULL,
        norm TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (user_id, kind, norm)  -- its index also serves lookups by user
    );
    CREATE TABLE follow_users (
        user_id BIGINT PRIMARY KEY,
        dms_closed_at TIMESTAMPTZ,
        last_error TEXT
    );
    CREATE TABLE follow_dm_log (
        user_id BIGINT NOT NULL,
        day DATE NOT NULL,
        status TEXT NOT NULL,
        claimed_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (user_id, day)
    );
    CREATE TABLE follow_sent (
        user_id BIGINT NOT NULL,
        paper_id BIGINT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
        day DATE NOT NULL,
        PRIMARY KEY (user_id, paper_id)
    );
    -- Deleting a paper cascades here; without this index each delete would scan follow_sent.
    CREATE INDEX follow_sent_paper ON follow_sent (paper_id);
    """,
    # v4: impact-ordered postings for lexical search at scale (see store.py), kept in line with
    # papers by statement-level triggers, so every writer (upsert, migrate, COPY, an operator's
    # SQL) keeps them exact; backfilled here for existing libraries.
    POSTINGS_SQL,
    # v5 (collections, issue 21 part 3; SQLite's v4): a server's private reading list. ``owner`` is the
    # collection a paper belongs to (a guild id; a name in the CLI), NULL for the shared library; ids
    # are unique per owner, so a private copy of a shared paper is its own row. The partial index holds
    # the private papers only: the ids a scope hides are read from it inside each search query.
    """
    ALTER TABLE papers ADD COLUMN owner TEXT;
    ALTER TABLE papers DROP CONSTRAINT papers_ext_id_key;
    ALTER TABLE papers DROP CONSTRAINT papers_arxiv_id_key;
    CREATE UNIQUE INDEX papers_owner_ext_id ON papers (COALESCE(owner, ''), ext_id);
    CREATE UNIQUE INDEX papers_owner_arxiv_id ON papers (COALESCE(owner, ''), arxiv_id) WHERE arxiv_id IS NOT NULL;
    CREATE INDEX papers_ext_id ON papers (ext_id);
    CREATE INDEX papers_arxiv_id ON papers (arxiv_id);
    CREATE INDEX papers_owner ON papers (owner, id) WHERE owner IS NOT NULL;
    """,
    # v6 (issue 21, parts 1-2): papers' full texts and threads opened on answers (as SQLite's v5).
    """
    CREATE TABLE fulltexts (
        paper_id BIGINT PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('ok', 'unavailable')),
        source TEXT,
        reason TEXT NOT NULL DEFAULT '',
        fetched_at TIMESTAMPTZ NOT NULL,
        truncated BOOLEAN NOT NULL DEFAULT false,
        model TEXT NOT NULL DEFAULT '',
        dimension INTEGER NOT NULL DEFAULT 0,
        vectors BYTEA
    );
    ALTER TABLE fulltexts ALTER COLUMN vectors SET STORAGE EXTERNAL;
    CREATE TABLE fulltext_sentences (
        paper_id BIGINT NOT NULL REFERENCES fulltexts (paper_id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        section INTEGER NOT NULL,
        heading TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (paper_id, position)
    );
    CREATE TABLE thread_context (
        thread_id BIGINT PRIMARY KEY,
        guild_id BIGINT,
        paper_ids BIGINT[] NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX thread_context_expires ON thread_context (expires_at);
    """,
    # v7: each paper's whole-paper vector ("title. abstract" encoded as one text; see whole.py), by
    # model, current while its text hash is the paper's; older libraries are backfilled on open.
    """
    CREATE TABLE paper_whole (
        paper_id BIGINT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        vector BYTEA NOT NULL,
        PRIMARY KEY (paper_id, model)
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: psycopg.Connection) -> int:
    """Apply missing migrations (safe when several processes start at once); returns the schema version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_MIGRATE,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"the database has schema v{version}, newer than this paperbot (v{SCHEMA_VERSION}); upgrade paperbot"
            )
        for number in range(version, SCHEMA_VERSION):
            log.info("migrating the PostgreSQL library to schema v%d", number + 1)
            conn.execute(MIGRATIONS[number])  # type: ignore[arg-type]  # trusted constant SQL
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number + 1,))
    return SCHEMA_VERSION


def vector_table_sql(dimension: int) -> str:
    """The vector table for ``dimension``-sized embeddings, with its HNSW index (inner product)."""
    return f"""
    CREATE TABLE paper_vectors (
        paper_id BIGINT PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
        text_hash TEXT NOT NULL,
        embedding vector({int(dimension)}) NOT NULL,
        -- n_sentences x dimension float16, row-major: fetched for search candidates only.
        sentences BYTEA NOT NULL,
        n_sentences INTEGER NOT NULL
    );
    -- Half-precision vectors do not compress: store them out of line without trying.
    ALTER TABLE paper_vectors ALTER COLUMN sentences SET STORAGE EXTERNAL;
    CREATE INDEX paper_vectors_hnsw ON paper_vectors USING hnsw (embedding vector_ip_ops)
        WITH (m = 16, ef_construction = 64);
    """
