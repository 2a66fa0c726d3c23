-- Two-factor sign-in (TOTP, RFC 6238) and role policies (issue 14).
-- totp_secret / totp_pending hold the secret encrypted (angebae.twofactor: AES-256-GCM, a key from the
-- secret store, the admin's id as associated data), never the secret itself. totp_last_step is the
-- last 30-second step a code was accepted for: a code is accepted only for a later step, so a code
-- is used once (a replay in its window is refused).
ALTER TABLE admin_users
    ADD COLUMN totp_secret     text,
    ADD COLUMN totp_pending    text,
    ADD COLUMN totp_enabled_at timestamptz,
    ADD COLUMN totp_last_step  bigint NOT NULL DEFAULT 0;

-- One-time recovery codes, given at enrolment: only their SHA-256 (with the admin's id) is kept.
CREATE TABLE recovery_codes (
    admin_id   uuid NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    code_hash  text NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (admin_id, code_hash)
);

-- What an admin decides for every account of a role: two-factor sign-in required or not.
CREATE TABLE role_policies (
    role                text PRIMARY KEY CHECK (role IN ('admin', 'editor', 'viewer')),
    two_factor_required boolean NOT NULL DEFAULT false,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
INSERT INTO role_policies (role) VALUES ('admin'), ('editor'), ('viewer');
