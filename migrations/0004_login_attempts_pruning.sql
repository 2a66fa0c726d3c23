-- Each login sweeps a few attempts older than the counting window (auth.login): this index keeps that
-- sweep cheap and the table bounded without a scheduler.
CREATE INDEX login_attempts_at_idx ON login_attempts (attempted_at);
