-- The requests inbox (component "bot", version 26): when a request expires
-- (NULL: never; invoices and recurring requests have their own life), how
-- often its requester reminded the payer, and when last.
ALTER TABLE bot_requests ADD COLUMN expires_at_ms INTEGER;
ALTER TABLE bot_requests ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bot_requests ADD COLUMN reminded_at_ms INTEGER;
CREATE INDEX bot_requests_expiring ON bot_requests (expires_at_ms)
    WHERE expires_at_ms IS NOT NULL AND state IN ('open', 'approved');
