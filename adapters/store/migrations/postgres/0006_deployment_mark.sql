-- When this database first served a production deployment (component
-- "bot", version 6). Development (the mock chat, play money, the card
-- simulator) refuses to run on a database that has a row here, so a
-- `paybot chat` or a development `paybot serve` pointed at a production
-- database by mistake changes nothing in it.
CREATE TABLE bot_deployment (
    situation   TEXT PRIMARY KEY,
    first_at_ms BIGINT NOT NULL
);
