-- A login attempt is counted under a keyed hash of the email as typed (auth.account_key), never the
-- text: someone who types a password in the email field must not find it stored. Attempts kept so far
-- hold that text in clear; they only count towards the rate limit for a window, so they go.
DELETE FROM login_attempts;
ALTER TABLE login_attempts RENAME COLUMN email TO account_key;
ALTER INDEX login_attempts_email_idx RENAME TO login_attempts_account_key_idx;
