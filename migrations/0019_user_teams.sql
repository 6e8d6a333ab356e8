-- The teams a user works in, a JSON list of team names: "take next" draws from their
-- unassigned conversations (from every team's for a user in none).
ALTER TABLE users ADD COLUMN teams TEXT NOT NULL DEFAULT '[]';
