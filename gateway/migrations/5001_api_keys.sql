-- API keys of the gateway: only a SHA-256 hash of each secret is stored.
CREATE TABLE IF NOT EXISTS gateway_api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- Comma-separated scopes: read, upload, admin.
    scopes TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    -- 0 while the key is valid, else the revocation time (milliseconds since the epoch).
    revoked_at BIGINT NOT NULL DEFAULT 0
);

-- Gateway-wide settings shared by every gateway replica, e.g. the key that signs upload URLs.
CREATE TABLE IF NOT EXISTS gateway_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
