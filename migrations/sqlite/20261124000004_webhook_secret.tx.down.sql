ALTER TABLE triggers DROP COLUMN webhook_secret;
