"""Products bench: seed 100,000 products into a scratch database, then time the products function's
handler (REST events, as API Gateway sends them) for list, filtered list, search, typo searches (the
issue's one-letter typos, each must find rows) and get by id, and show the query plans (which must not
scan the products table sequentially). The seed is VACUUMed, as autovacuum soon would: the search
index's pending list of fresh rows merged.

    .venv/bin/python bench/products_bench.py [--products 100000] [--calls 200] [--keep] [--without-pg-trgm]

The server is BENCH_DATABASE_URL, else PostgreSQL on 127.0.0.1:5432, else an embedded pgserver.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "common" / "python"), str(ROOT / "tests")]

import psycopg  # noqa: E402
from angebae.auth import sessions  # noqa: E402
from angebae.catalog import products  # noqa: E402
from angebae.db import get_database  # noqa: E402
from angebae.migrations import apply_migrations  # noqa: E402
from angebae.models import ProductQuery  # noqa: E402
from angebae.settings import get_settings  # noqa: E402
from angebae_local.db import scratch_server_url, with_dbname  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402
from support import LambdaContext, rest_event  # noqa: E402

DB_NAME = "angebae_bench"
# One-letter errors: a deletion, a transposition, a deletion, a deletion (with ñ), a deletion (ü).
TYPOS = ["destornilador", "camoin", "trator", "muñca", "pingino"]

SEED = """
WITH words AS (
    SELECT ARRAY['Camión', 'Tornillo', 'Destornillador', 'Martillo', 'Llave', 'Truck', 'Hammer', 'Screw',
                 'Tuerca', 'Caja', 'Cable', 'Lámpara', 'Bombilla', 'Taladro', 'Sierra', 'Cinta', 'Pintura',
                 'Brocha', 'Manguera', 'Grifo', 'Tractor', 'Muñeca', 'Pingüino'] AS nouns,
           ARRAY['rojo', 'azul', 'verde', 'hexagonal', 'inoxidable', 'eléctrico', 'grande', 'pequeño',
                 'industrial', 'plástico', 'red', 'steel', 'cordless', 'heavy', 'mini'] AS adjectives,
           ARRAY['Acero templado', 'Para uso profesional', 'Garantía de dos años', 'Made in Spain',
                 'Pack of ten', 'Envío en 24 horas', 'Resistente al agua'] AS notes
)
INSERT INTO products (name, slug, sku, description, price, currency, stock, status, category_id,
                     created_at, updated_at)
SELECT nouns[1 + i %% 23] || ' ' || adjectives[1 + (i / 23) %% 15] || ' modelo ' || i,
       'bench-' || i,
       CASE WHEN i %% 2 = 0 THEN 'SKU-' || i END,
       notes[1 + i %% 7],
       CASE WHEN i %% 50 = 0 THEN NULL ELSE round((random() * 500)::numeric, 2) END,
       CASE WHEN i %% 50 = 0 THEN NULL WHEN i %% 10 = 3 THEN 'USD' ELSE 'EUR' END,
       (random() * 100)::int,
       (ARRAY['draft', 'active', 'active', 'active', 'archived'])[1 + i %% 5],
       (SELECT array_agg(id ORDER BY name) FROM categories)[1 + i %% 40],
       now() - make_interval(mins => i),
       now() - make_interval(mins => i %% 1000)
FROM generate_series(1, %(n)s) AS i, words
"""


def seed(server: str, count: int, name: str = DB_NAME) -> str:
    """A fresh, migrated database `name` with 40 categories and `count` products."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(server, name)
    apply_migrations(url)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO categories (name, slug) SELECT 'Familia ' || i, 'familia-' || i "
            "FROM generate_series(1, 10) AS i"
        )
        conn.execute("""INSERT INTO categories (name, slug, parent_id)
                        SELECT 'Subfamilia ' || i, 'subfamilia-' || i,
                               (SELECT id FROM categories ORDER BY name LIMIT 1 OFFSET i % 10)
                        FROM generate_series(1, 30) AS i""")
        conn.execute(SEED, {"n": count})
        # VACUUM, as autovacuum soon would: the GIN index's pending list (100,000 fresh rows) merged
        conn.execute("VACUUM ANALYZE")
        print(f"seeded {count:,} products in {time.perf_counter() - started:.1f} s")
    return url


def load_products_function(url: str):
    os.environ.update(DATABASE_URL=url, JWT_SECRET="bench-secret-" + "x" * 40, LOG_LEVEL="WARNING")
    get_settings.cache_clear()
    get_database.cache_clear()
    spec = importlib.util.spec_from_file_location("products_fn", ROOT / "functions" / "products" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def explain(conn, query: ProductQuery) -> str:
    statement, params = products.build_list_query(query, products.typo_query(conn, query.q))
    rows = conn.execute(
        psycopg.sql.SQL("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ") + statement, params
    ).fetchall()
    return "\n".join(r["QUERY PLAN"] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--without-pg-trgm",
        action="store_true",
        help="drop pg_trgm after seeding (search does not use it: typos go through the "
        "search_words vocabulary of migrations/0014 on every server)",
    )
    args = parser.parse_args()

    server = scratch_server_url("BENCH_DATABASE_URL", ROOT / ".local" / "bench-pgdata")
    url = seed(server, args.products)
    if args.without_pg_trgm:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP EXTENSION IF EXISTS pg_trgm CASCADE")
    fn = load_products_function(url)
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        editor = conn.execute(
            "INSERT INTO admin_users (email, password_hash, role) "
            "VALUES ('bench@example.com', 'x', 'editor') RETURNING *"
        ).fetchone()
        ids = [r["id"] for r in conn.execute("SELECT id FROM products TABLESAMPLE SYSTEM (5) LIMIT 1000")]
        category = conn.execute(
            "SELECT id FROM categories WHERE parent_id IS NULL ORDER BY name LIMIT 1"
        ).fetchone()["id"]
        trigram = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone() is not None
        vocabulary = conn.execute(
            "SELECT count(DISTINCT word) AS words, count(*) AS rows FROM search_words"
        ).fetchone()
    headers = {"Authorization": f"Bearer {sessions.issue_session(get_settings(), editor).token}"}

    filtered = {
        "status": "active",
        "category": str(category),
        "include_subcategories": "true",
        "currency": "EUR",
        "min_price": "100",
        "max_price": "200",
        "has_sku": "true",
        "sort": "price",
    }
    cases = {
        "list (newest first)": lambda: ({}, "/products", None),
        "list by name, 2nd page": lambda: ({"sort": "name", "cursor": name_cursor}, "/products", None),
        "filtered list": lambda: (filtered, "/products", None),
        "search 'camion rojo'": lambda: ({"q": "camion rojo"}, "/products", None),
        **{f"search typo '{typo}'": (lambda typo=typo: ({"q": typo}, "/products", None)) for typo in TYPOS},
        "get by id": lambda: (None, "/products/{id}", {"id": str(random.choice(ids))}),
    }

    def invoke(query, resource, path_params):
        path = resource.format(**path_params) if path_params else resource
        event = rest_event("GET", resource, path=path, query=query, headers=headers, path_params=path_params)
        response = fn.app(event, LambdaContext())
        assert response["statusCode"] == 200, response["body"]
        return response

    name_cursor = json.loads(invoke({"sort": "name"}, "/products", None)["body"])["next_cursor"]

    print(f"vocabulary: {vocabulary['words']:,} words, {vocabulary['rows']:,} rows with their deletions")
    print(
        f"\n{'case':32} {'p50 ms':>8} {'p95 ms':>8}  rows   (pg_trgm: {'yes' if trigram else 'no'}, "
        f"{args.calls} calls each)"
    )
    misses = []
    for label, make in cases.items():
        for _ in range(5):
            invoke(*make())  # warm: connection, prepared statements
        samples = []
        for _ in range(args.calls):
            request = make()
            started = time.perf_counter()
            response = invoke(*request)
            samples.append((time.perf_counter() - started) * 1000)
        body = json.loads(response["body"])
        rows = len(body["items"]) if "items" in body else 1
        print(f"{label:32} {percentile(samples, 0.5):8.2f} {percentile(samples, 0.95):8.2f}  {rows:4}")
        if label.startswith("search typo") and not rows:
            misses.append(label)

    print("\nPlans")
    sequential = []
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        plans = {
            "list (newest first)": explain(conn, ProductQuery()),
            "list by name, 2nd page": explain(conn, ProductQuery(sort="name", cursor=name_cursor)),
            "filtered list": explain(conn, ProductQuery(**filtered)),
            "search 'camion rojo'": explain(conn, ProductQuery(q="camion rojo")),
            **{f"search typo '{typo}'": explain(conn, ProductQuery(q=typo)) for typo in TYPOS},
            "get by id": "\n".join(
                r["QUERY PLAN"]
                for r in conn.execute(
                    psycopg.sql.SQL(
                        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                        "SELECT {} FROM products p WHERE p.id = %s"
                    ).format(products.COLUMNS),
                    (ids[0],),
                )
            ),
        }
        for label, plan in plans.items():
            print(f"\n--- {label}\n{plan}")
            if "Seq Scan on products" in plan:
                sequential.append(label)
    get_database().close()
    if not args.keep:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    print("\nsequential scans on products:", ", ".join(sequential) or "none")
    print("typos that found nothing:", ", ".join(misses) or "none")
    sys.exit(1 if sequential or misses else 0)


if __name__ == "__main__":
    main()
