-- Integration tokens carry scopes (what they may do) instead of a role. Tokens made before
-- keep what their role allowed: that role's scopes, as `promptly::account::Scopes::of_role`
-- names them today.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'events:write';
UPDATE api_tokens SET scopes = CASE role
    WHEN 'admin' THEN 'events:write conversations:read conversations:write catalog:read reports:read contracts:write admin'
    WHEN 'manager' THEN 'conversations:read catalog:read reports:read contracts:write'
    ELSE 'events:write conversations:read conversations:write catalog:read'
END;
ALTER TABLE api_tokens DROP COLUMN role;
