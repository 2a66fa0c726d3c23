"""POST /admin/login -> session cookie; GET /admin/me; the signed-in user's own password and second
factor: POST /admin/me/password, POST /admin/me/two-factor, POST /admin/me/two-factor/confirm."""

from angebae.auth import accounts, sessions
from angebae.auth.accounts import CodeProof, PasswordChange, PasswordProof
from angebae.auth.passwords import MAX_LENGTH
from angebae.db import get_database
from angebae.http import create_app, json_body, json_response, source_ip
from angebae.responses import Enrolled, Enrolment, Error, Me, Session
from angebae.settings import get_settings
from chalice import Response
from pydantic import BaseModel, Field

app = create_app("login")
settings = get_settings()
settings.require("jwt_secret")
settings.require("totp_encryption_key")
NO_STORE = {"Cache-Control": "no-store"}


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)
    code: str | None = Field(
        None,
        max_length=64,
        description="with two-factor sign-in on: the "
        "authenticator app's 6-digit code, or one of the recovery codes",
    )


def session_response(session: sessions.Session, **extra) -> Response:
    return json_response(
        {
            "admin": sessions.public_admin(session.admin),
            "expires_at": session.expires_at,
            "token": session.token,
            **extra,
        },
        headers={"Set-Cookie": sessions.session_cookie(settings, session.token), **NO_STORE},
    )


@app.route(
    "/admin/login",
    methods=["POST"],
    public=True,
    body=LoginRequest,
    responses={200: Session, 401: Error, 429: Error},
)
def login():
    request = app.current_request
    body = json_body(request, LoginRequest)
    session = sessions.login(
        get_database(), settings, body.email, body.password, source_ip(request), body.code
    )
    return session_response(
        session,
        two_factor_setup_required=bool(
            session.admin["two_factor_required"] and session.admin["totp_enabled_at"] is None
        ),
    )


@app.route("/admin/me", methods=["GET"], role="viewer", setup_ok=True, responses={200: Me})
def me():
    admin = app.current_admin
    return json_response(
        {"admin": sessions.public_admin(admin), "two_factor": accounts.two_factor_status(admin)}
    )


@app.route(
    "/admin/me/password",
    methods=["POST"],
    role="viewer",
    setup_ok=True,
    body=PasswordChange,
    responses={200: Session, 403: Error, 429: Error},
)
def change_password():
    """Change your own password (with the current one); your other sessions end"""
    body = json_body(app.current_request, PasswordChange)
    return session_response(
        accounts.change_password(
            get_database(), settings, app.current_admin, body, source_ip(app.current_request)
        )
    )


@app.route(
    "/admin/me/two-factor",
    methods=["POST"],
    role="viewer",
    setup_ok=True,
    body=PasswordProof,
    responses={200: Enrolment, 403: Error, 409: Error, 429: Error},
)
def start_two_factor():
    """Start two-factor enrolment: a new TOTP secret, shown this once as an otpauth:// URI"""
    body = json_body(app.current_request, PasswordProof)
    return json_response(
        accounts.start_enrolment(
            get_database(), settings, app.current_admin, body, source_ip(app.current_request)
        ),
        headers=NO_STORE,
    )


@app.route(
    "/admin/me/two-factor/confirm",
    methods=["POST"],
    role="viewer",
    setup_ok=True,
    body=CodeProof,
    responses={200: Enrolled, 409: Error, 429: Error},
)
def confirm_two_factor():
    """Confirm enrolment with a first code: two-factor sign-in on, ten recovery codes shown once"""
    body = json_body(app.current_request, CodeProof)
    session, codes = accounts.confirm_enrolment(
        get_database(), settings, app.current_admin, body, source_ip(app.current_request)
    )
    return session_response(session, recovery_codes=codes)
