-- Notifications: one row per user and cause (a warning, a breach, a band change, a rule's
-- notify), written in the transaction that fired it; read when the user opens it or marks
-- all read.
CREATE TABLE notifications (
    id              {id},
    user_id         {bigint}    NOT NULL REFERENCES users(id),
    kind            TEXT        NOT NULL,
    title           TEXT        NOT NULL,
    body            TEXT        NOT NULL,
    link            TEXT        NOT NULL,
    conversation_id {bigint},
    cause           TEXT        NOT NULL,
    created_at      {ts}        NOT NULL,
    read_at         {ts},
    UNIQUE (user_id, cause)
);
CREATE INDEX notifications_user ON notifications(user_id, id);
CREATE INDEX notifications_unread ON notifications(user_id) WHERE read_at IS NULL;

-- A user's notification settings (`promptly::notify::NotificationSettings` as JSON); no
-- row: the defaults.
CREATE TABLE notification_settings (
    user_id         {bigint}    PRIMARY KEY REFERENCES users(id),
    settings        TEXT        NOT NULL
);

-- The live service level's band per wallboard row (`team:Billing`, `all:`), as last seen by
-- any server, and each change fired: `change_key` (row, interval, from, to) is unique, so a
-- change fires once per interval however many servers see it. Rule runs and deliveries of
-- a band change have conversation id 0 (no conversation).
CREATE TABLE band_states (
    row_key         TEXT        PRIMARY KEY,
    band            TEXT        NOT NULL,
    updated_at      {ts}        NOT NULL
);
CREATE TABLE band_changes (
    id              {id},
    change_key      TEXT        NOT NULL UNIQUE,
    row_key         TEXT        NOT NULL,
    from_band       TEXT        NOT NULL,
    to_band         TEXT        NOT NULL,
    payload         TEXT        NOT NULL,
    at              {ts}        NOT NULL
);
