"""GET /health: each component with status and latency; 503 naming the failing part."""

from __future__ import annotations

from support import call, load_function, rest_event


def test_health_is_200_and_names_each_component_when_all_are_up(aws):
    response = call(load_function("health"), rest_event("GET", "/health"))
    assert response["statusCode"] == 200
    components = response["json"]["components"]
    assert set(components) == {"database", "storage", "queue"}
    assert all(c["status"] == "up" and c["latency_ms"] >= 0 for c in components.values())
    assert components["database"]["migration_version"] >= 1


def test_health_is_503_naming_storage_when_the_bucket_is_gone(aws):
    aws["s3"].delete_bucket(Bucket=aws["bucket"])
    response = call(load_function("health"), rest_event("GET", "/health"))
    assert response["statusCode"] == 503
    assert response["json"]["failing"] == ["storage"]


def test_health_is_503_naming_the_queue_when_it_is_gone(aws):
    aws["sqs"].delete_queue(QueueUrl=aws["queue_url"])
    response = call(load_function("health"), rest_event("GET", "/health"))
    assert response["statusCode"] == 503
    assert response["json"]["failing"] == ["queue"]
    assert response["json"]["components"]["queue"]["error"] == "QueueUnavailable"  # angebae.queue.Queue
    assert aws["queue_url"] not in response["body"]


def test_health_is_503_naming_the_database_when_it_is_unreachable(aws, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    response = call(load_function("health"), rest_event("GET", "/health"))
    assert response["statusCode"] == 503
    assert response["json"]["failing"] == ["database"]
    assert "error" in response["json"]["components"]["database"]


def test_health_needs_no_credentials_and_has_no_side_effects(aws, db):
    before = db.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"]
    call(load_function("health"), rest_event("GET", "/health"))
    assert db.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"] == before


def test_the_public_health_body_names_no_bucket_host_or_error_text(aws, monkeypatch):
    # GIVEN storage up (its name holds the AWS account id in production) and then storage gone
    up = call(load_function("health"), rest_event("GET", "/health"))
    aws["s3"].delete_bucket(Bucket=aws["bucket"])
    down = call(load_function("health"), rest_event("GET", "/health"))
    # THEN neither unauthenticated answer carries the bucket's name or the error's text
    for response in (up, down):
        assert aws["bucket"] not in response["body"]
    # (the type is the wrapper's, angebae.storage.Storage: botocore's error never reaches the body)
    assert down["json"]["components"]["storage"]["error"] == "StorageUnavailable"
    assert "HeadBucket" not in down["body"] and "Not Found" not in down["body"]


def test_health_lists_the_installed_ocr_languages_and_the_default_without_a_path(aws, monkeypatch, tmp_path):
    # GIVEN a tessdata folder with Spanish, English, German and the orientation model, and a default
    for name in ("spa", "eng", "deu", "osd"):
        (tmp_path / f"{name}.traineddata").write_bytes(b"model")
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    monkeypatch.setenv("OCR_LANGUAGES", "spa+eng")
    # WHEN /health is asked
    response = call(load_function("health"), rest_event("GET", "/health"))
    # THEN it lists the languages a job may ask for (osd is no language) and names no folder
    assert response["json"]["ocr_languages"] == {"default": "spa+eng", "installed": ["deu", "eng", "spa"]}
    assert str(tmp_path) not in response["body"] and "traineddata" not in response["body"]


def test_health_says_installed_null_where_no_tessdata_is_present(aws, monkeypatch, tmp_path):
    # GIVEN a function without the OCR layer (its tessdata folder does not exist)
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path / "none"))
    # WHEN /health is asked, THEN it still answers 200 with the default and installed null
    response = call(load_function("health"), rest_event("GET", "/health"))
    assert response["statusCode"] == 200
    assert response["json"]["ocr_languages"] == {"default": "spa+eng", "installed": None}
