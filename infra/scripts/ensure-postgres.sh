#!/usr/bin/env bash
# Makes sure a PostgreSQL answers for the tests. Order: TEST_DATABASE_URL as given; a local cluster on
# 127.0.0.1:5432 (started with pg_ctlcluster when it is installed but stopped); otherwise nothing to do
# here: the tests then start the embedded server of the `pgserver` wheel in .local/test-pgdata.
set -uo pipefail
[ -n "${TEST_DATABASE_URL:-}" ] && exit 0
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for dir in /etc/postgresql/*/; do
    version=$(basename "$dir")
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  done
  for _ in $(seq 1 20); do pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && exit 0; sleep 0.5; done
fi
echo "no PostgreSQL on 127.0.0.1:5432: the tests will use the embedded pgserver" >&2
exit 0
