-- Sessions end when the password changes or the account is deactivated: every token carries the
-- admin's session generation (claim "gen") and is accepted only while it equals the stored one.
ALTER TABLE admin_users ADD COLUMN session_generation integer NOT NULL DEFAULT 0;
