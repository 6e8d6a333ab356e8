-- The time zone a user reads times in (an IANA name such as Europe/Amsterdam); NULL: not
-- chosen, so the pages use the browser's zone, else UTC. The API stays in UTC.
ALTER TABLE users ADD COLUMN timezone TEXT;
