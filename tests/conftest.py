"""Shared fixtures: a real PostgreSQL (a fresh database per test, cloned from a migrated template),
function modules loaded as Lambda would load them, and REST API (v1 proxy) events."""

from __future__ import annotations

import itertools
import logging
import os
import uuid

import psycopg
import pytest
from angebae.aws import s3_client, sqs_client
from angebae.db import get_database
from angebae.migrations import apply_migrations
from angebae.settings import get_settings
from support import postgres_server_url, with_dbname

# Every route's answer must match its declared response model (angebae.http): a mismatch is a 500
# naming it, in these tests and in the functions and local stacks they start.
os.environ["ANGEBAE_STRICT_RESPONSES"] = "1"
# pgserver logs from an atexit hook, after pytest has closed the streams its handlers wrote to.
logging.getLogger("pgserver").propagate = False

TEST_JWT_SECRET = "test-secret-" + "x" * 40
TEST_TOTP_KEY = "test-totp-key-" + "y" * 40
_counter = itertools.count()


@pytest.fixture(scope="session")
def moto_endpoint():
    """A real moto server on a free loopback port (S3 and SQS over HTTP, as boto3 sees AWS)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(monkeypatch, moto_endpoint, env):
    """AWS settings for this test: the moto endpoint, a fresh bucket and queue, their names in env."""
    import boto3

    suffix = uuid.uuid4().hex[:10]
    for key, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    bucket = f"media-{suffix}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=f"ocr-{suffix}")["QueueUrl"]
    monkeypatch.setenv("MEDIA_BUCKET", bucket)
    monkeypatch.setenv("OCR_QUEUE_URL", queue_url)
    s3_client.cache_clear()
    sqs_client.cache_clear()
    yield {"s3": s3, "sqs": sqs, "bucket": bucket, "queue_url": queue_url, "endpoint": moto_endpoint}
    s3_client.cache_clear()
    sqs_client.cache_clear()


@pytest.fixture(scope="session")
def pg_server() -> str:
    return postgres_server_url()


@pytest.fixture(scope="session")
def template_db(pg_server) -> str:
    name = f"angebae_tpl_{os.getpid()}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    apply_migrations(with_dbname(pg_server, name))
    yield name
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_server, template_db) -> str:
    """A fresh, migrated database for this test alone."""
    name = f"angebae_t_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield with_dbname(pg_server, name)
    get_database.cache_clear()
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database(pg_server) -> str:
    """A new database with nothing in it (no migrations), for migration tests."""
    name = f"angebae_empty_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_dbname(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def env(monkeypatch, database_url) -> dict:
    """The environment a function gets from the template, pointing at this test's database."""
    values = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "TOTP_ENCRYPTION_KEY": TEST_TOTP_KEY,
        "BCRYPT_COST": "10",
        "COOKIE_SECURE": "true",
        "LOG_LEVEL": "WARNING",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    get_database.cache_clear()
    yield values
    get_settings.cache_clear()
    get_database.cache_clear()


@pytest.fixture
def db(env):
    """A psycopg connection to this test's database, for GIVEN set-up and THEN checks."""
    with psycopg.connect(env["DATABASE_URL"], autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        yield conn
