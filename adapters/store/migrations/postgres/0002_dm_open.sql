-- Whether the bot may message an identity privately (component "bot",
-- version 2). `dm_open` is set once the user has written to the bot in a
-- direct chat (Telegram forbids a bot to open a DM) and is never cleared.
-- Identities recorded before this migration start closed: the next direct
-- message opens them.
ALTER TABLE bot_identities
    ADD COLUMN dm_open BOOLEAN NOT NULL DEFAULT false;
