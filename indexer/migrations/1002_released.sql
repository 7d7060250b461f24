-- The mission's data release: a file is public once a release manifest covering it has been
-- applied. INTEGER 0/1 rather than BOOLEAN so the same column reads alike through sqlx Any on
-- SQLite and PostgreSQL.
ALTER TABLE indexed_files ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
-- Milliseconds since the Unix epoch of the first release that covered the file.
ALTER TABLE indexed_files ADD COLUMN released_at BIGINT;
-- Archive key of that release's manifest.
ALTER TABLE indexed_files ADD COLUMN release_manifest TEXT NOT NULL DEFAULT '';

CREATE INDEX IF NOT EXISTS indexed_files_release_scope
    ON indexed_files (instrument, start_date);
