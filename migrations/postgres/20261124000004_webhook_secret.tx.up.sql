-- The signing secret of a webhook trigger (postgres), for POST /hooks/{path}.
--
-- webhook_secret holds the secret sealed with AES-256-GCM under WFR_WEBHOOK_SECRET_KEY
-- (server/webhook.Box: version byte, 12-byte nonce, ciphertext and tag), never the secret
-- itself. NULL: the trigger has no secret and cannot be called at /hooks. Only webhook rows
-- may have one.
ALTER TABLE triggers ADD COLUMN webhook_secret BYTEA
    CHECK (webhook_secret IS NULL OR kind = 'webhook');
