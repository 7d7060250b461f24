-- When a key stops being accepted (milliseconds since the epoch); 0 for a key that never expires.
ALTER TABLE gateway_api_keys ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
