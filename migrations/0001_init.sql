-- angebae functions: base schema. gen_random_uuid() is core since PostgreSQL 13 (no pgcrypto needed).

CREATE TABLE admin_users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'editor', 'viewer')),
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
CREATE UNIQUE INDEX admin_users_email_key ON admin_users (email);

-- Logged-out tokens, kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        uuid PRIMARY KEY,
    admin_id   uuid REFERENCES admin_users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);

CREATE TABLE login_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email        text NOT NULL,
    source_ip    text NOT NULL,
    succeeded    boolean NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_email_idx ON login_attempts (email, attempted_at);
CREATE INDEX login_attempts_ip_idx ON login_attempts (source_ip, attempted_at);

CREATE TABLE media (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bucket        text NOT NULL,
    object_key    text NOT NULL UNIQUE,
    filename      text NOT NULL,          -- the client's name: metadata only, never a path
    declared_type text NOT NULL,
    declared_size bigint CHECK (declared_size > 0),
    size_bytes    bigint,
    sniffed_type  text,
    etag          text,
    version_id    text,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'uploaded', 'rejected')),
    error_code    text,
    error_message text,
    uploaded_by   uuid REFERENCES admin_users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_newest_idx ON media (created_at DESC, id DESC);

CREATE TABLE ocr_jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    media_id         uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    -- Idempotency: one job per object version (s3:bucket/key@version-or-etag) or per API request.
    source_key       text NOT NULL UNIQUE,
    languages        text NOT NULL DEFAULT 'spa+eng',
    pages            integer[],            -- NULL = every page
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'processing', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    lease_owner      text,
    lease_expires_at timestamptz,
    pages_total      integer,
    pages_done       integer NOT NULL DEFAULT 0,
    error_code       text,
    error_message    text,
    requested_by     uuid REFERENCES admin_users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ocr_jobs_media_idx ON ocr_jobs (media_id, created_at DESC);
CREATE INDEX ocr_jobs_status_idx ON ocr_jobs (status, created_at DESC);

CREATE TABLE ocr_pages (
    job_id          uuid NOT NULL REFERENCES ocr_jobs (id) ON DELETE CASCADE,
    page_number     integer NOT NULL CHECK (page_number > 0),
    source          text NOT NULL CHECK (source IN ('text', 'ocr')),
    width           real NOT NULL,
    height          real NOT NULL,
    mean_confidence real NOT NULL,
    words           jsonb NOT NULL,
    text            text NOT NULL,
    seconds         real NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, page_number)
);

CREATE TABLE categories (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug       text NOT NULL UNIQUE,
    parent_id  uuid REFERENCES categories (id) ON DELETE RESTRICT,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX categories_parent_idx ON categories (parent_id);

CREATE TABLE products (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
    slug                text NOT NULL UNIQUE,
    sku                 text,
    description         text NOT NULL DEFAULT '',
    price               numeric(14, 4) CHECK (price >= 0),
    currency            char(3),
    stock               integer NOT NULL DEFAULT 0,
    status              text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'archived')),
    category_id         uuid REFERENCES categories (id) ON DELETE RESTRICT,
    attributes          jsonb NOT NULL DEFAULT '{}'::jsonb,
    source_candidate_id uuid,
    version             integer NOT NULL DEFAULT 1,
    created_by          uuid REFERENCES admin_users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX products_sku_key ON products (sku) WHERE sku IS NOT NULL;
CREATE INDEX products_category_idx ON products (category_id);

CREATE TABLE product_candidates (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id      uuid NOT NULL REFERENCES ocr_jobs (id) ON DELETE CASCADE,
    media_id    uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    page_number integer NOT NULL,
    position    integer NOT NULL,
    name        text NOT NULL,
    price       numeric(14, 4),
    currency    char(3),
    sku         text,
    qty         numeric(14, 4),
    bbox        real[] NOT NULL,
    confidence  real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    raw         text NOT NULL DEFAULT '',
    attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
    product_id  uuid REFERENCES products (id) ON DELETE SET NULL,
    decided_by  uuid REFERENCES admin_users (id) ON DELETE SET NULL,
    decided_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, page_number, position)
);
CREATE INDEX product_candidates_job_idx ON product_candidates (job_id, page_number, position);
CREATE INDEX product_candidates_sku_idx ON product_candidates (sku) WHERE sku IS NOT NULL;

ALTER TABLE products ADD CONSTRAINT products_source_candidate_fk
    FOREIGN KEY (source_candidate_id) REFERENCES product_candidates (id) ON DELETE SET NULL;

CREATE TABLE product_media (
    product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    media_id   uuid NOT NULL REFERENCES media (id) ON DELETE RESTRICT,
    position   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, media_id)
);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id    uuid,
    actor_email text,
    action      text NOT NULL,
    entity      text NOT NULL,
    entity_id   text,
    before      jsonb,
    after       jsonb,
    source_ip   text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, at DESC);
