-- Channel accounts: a WhatsApp number, a Facebook page, an Instagram account or an X
-- account connected straight to Promptly (`promptly::channels`). `definition` is the
-- account's name and settings as JSON (its secrets too: the platform's tokens are needed
-- in clear to call it, as the rules' webhook secrets are); the health columns count the
-- webhooks received and the failures. Conversations and the audit log name accounts, so
-- deleting one marks it.
CREATE TABLE channel_accounts (
    id              {id},
    kind            TEXT        NOT NULL,
    definition      TEXT        NOT NULL,
    created_at      {ts}        NOT NULL,
    updated_at      {ts}        NOT NULL,
    deleted_at      {ts},
    last_webhook_at {ts},
    last_error      TEXT,
    last_error_at   {ts},
    webhooks        {bigint}    NOT NULL DEFAULT 0,
    failures        {bigint}    NOT NULL DEFAULT 0
);
