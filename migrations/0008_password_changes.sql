-- A user whose password was made up for them (the first admin's printed one, an admin's
-- reset) must choose their own at the next login before anything else.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT {false};
