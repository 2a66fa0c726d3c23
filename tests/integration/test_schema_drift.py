"""Migration drift: the schema that migrations build from zero is the schema the code was written
against (tests/fixtures/schema.txt), and an applied migration that was edited afterwards is refused.

After adding a migration, refresh the expected schema deliberately:
    UPDATE_SCHEMA_SNAPSHOT=1 .venv/bin/pytest tests/integration/test_schema_drift.py
"""

from __future__ import annotations

import os
import shutil

import psycopg
import pytest
from angebae.migrations import MigrationDrift, apply_migrations, migrations_dir
from support import ROOT, with_dbname

SNAPSHOT = ROOT / "tests" / "fixtures" / "schema.txt"

# Objects that exist only where the server has pg_trgm (the embedded pgserver has not): not drift.
OPTIONAL = ("trgm",)


def describe_schema(conn: psycopg.Connection) -> str:
    rows = []
    rows += [
        f"column {t}.{c} {ty}{' not null' if nn else ''}{f' default {d}' if d else ''}"
        for t, c, ty, nn, d in conn.execute("""
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(ad.adbin, ad.adrelid)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped""")
    ]
    rows += [
        f"constraint {t}.{name} {definition}"
        for t, name, definition in conn.execute("""
        SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'""")
    ]
    rows += [
        f"index {definition}"
        for (definition,) in conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'")
    ]
    rows += [
        f"function {name}({args})"
        for name, args in conn.execute("""
        SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
        WHERE n.nspname = 'public' AND d.objid IS NULL""")
    ]
    rows = [r for r in rows if not any(word in r for word in OPTIONAL)]
    return "\n".join(sorted(rows)) + "\n"


def test_migrations_from_zero_build_the_schema_the_code_expects(pg_server, template_db):
    with psycopg.connect(with_dbname(pg_server, template_db)) as conn:
        actual = describe_schema(conn)
    if os.environ.get("UPDATE_SCHEMA_SNAPSHOT"):
        SNAPSHOT.write_text(actual)
    assert actual == SNAPSHOT.read_text(), "schema drift: see this file's docstring"


def test_an_applied_migration_edited_afterwards_is_refused(empty_database, tmp_path):
    for path in migrations_dir().glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    apply_migrations(empty_database, tmp_path)
    first = sorted(tmp_path.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after release\n")
    with pytest.raises(MigrationDrift, match=first.name):
        apply_migrations(empty_database, tmp_path)
