"""Secrets are read from Secrets Manager (moto) when only their id is in the environment (issue 10)."""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import pytest
from angebae.settings import ConfigurationError, Settings, secrets_provider
from angebae_local.template import LocalValues, Template
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from moto import mock_aws

KEY = "k" * 48
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def secretsmanager(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(Name="angebae/database-url", SecretString="postgresql://db.internal/angebae")
        client.create_secret(Name="angebae/jwt-secret", SecretString=KEY)
        client.create_secret(Name="angebae/short", SecretString="too-short")
        yield client


ENV = {"DATABASE_URL_SECRET_ID": "angebae/database-url", "JWT_SECRET_ID": "angebae/jwt-secret"}


def test_secret_ids_are_read_from_secrets_manager(secretsmanager):
    # GIVEN only secret ids in the environment, as the template gives the functions
    settings = Settings.from_env(ENV)
    provider = SecretsProvider(boto3_client=secretsmanager)
    # THEN the configuration holds no value, and require() reads each secret
    assert settings.database_url is None and settings.jwt_secret is None
    assert settings.require("database_url", provider=provider) == "postgresql://db.internal/angebae"
    assert settings.require("jwt_secret", provider=provider) == KEY


def test_the_default_provider_reads_through_the_standard_aws_configuration(secretsmanager):
    secrets_provider.cache_clear()
    try:
        assert Settings.from_env(ENV).require("jwt_secret") == KEY
    finally:
        secrets_provider.cache_clear()


def test_a_secret_is_cached_for_its_max_age_then_read_again(secretsmanager):
    provider = SecretsProvider(boto3_client=secretsmanager)
    settings = Settings.from_env({**ENV, "SECRETS_MAX_AGE_SECONDS": "1"})
    assert settings.require("jwt_secret", provider=provider) == KEY
    # WHEN the key is rotated
    secretsmanager.put_secret_value(SecretId="angebae/jwt-secret", SecretString="r" * 48)
    # THEN a function keeps the value it read until the max age passes, then reads the new one
    assert settings.require("jwt_secret", provider=provider) == KEY
    time.sleep(1.1)
    assert settings.require("jwt_secret", provider=provider) == "r" * 48


def test_a_plain_variable_wins_over_the_secret_id(secretsmanager):
    settings = Settings.from_env({**ENV, "JWT_SECRET": "p" * 40, "DATABASE_URL": "postgresql://local/x"})
    provider = SecretsProvider(boto3_client=secretsmanager)
    assert settings.require("jwt_secret", provider=provider) == "p" * 40
    assert settings.require("database_url", provider=provider) == "postgresql://local/x"


def test_a_missing_or_weak_secret_stops_the_function_naming_it(secretsmanager):
    provider = SecretsProvider(boto3_client=secretsmanager)
    missing = Settings.from_env({**ENV, "JWT_SECRET_ID": "angebae/nope"})
    with pytest.raises(ConfigurationError, match="JWT_SECRET_ID: cannot read secret 'angebae/nope'"):
        missing.require("jwt_secret", provider=provider)
    weak = Settings.from_env({**ENV, "JWT_SECRET_ID": "angebae/short"})
    with pytest.raises(ConfigurationError, match="JWT_SECRET_ID: secret 'angebae/short': .*32 bytes"):
        weak.require("jwt_secret", provider=provider)


def test_no_database_url_nor_its_secret_id_is_refused_at_start():
    with pytest.raises(ConfigurationError, match="DATABASE_URL is not set .nor DATABASE_URL_SECRET_ID."):
        Settings.from_env({"JWT_SECRET": KEY})


def test_the_local_stack_gives_plain_variables_for_secret_ids():
    # GIVEN the template's secret ids and the local stack's own values
    template = Template(
        ROOT / "template.yaml",
        LocalValues(
            secrets={"DATABASE_URL": "postgresql://127.0.0.1/angebae", "JWT_SECRET": KEY},
            resources={"MediaBucket": {"Ref": "b"}, "OcrQueue": {"Ref": "q"}},
        ),
    )
    env = template.environment(template.function("categories"))
    # THEN the function gets the plain variables and no id that would send it to a secrets store
    assert env["DATABASE_URL"] == "postgresql://127.0.0.1/angebae" and env["JWT_SECRET"] == KEY
    assert not [k for k in env if k.endswith("_SECRET_ID")]
