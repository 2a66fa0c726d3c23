"""POST /admin/login -> session cookie; GET /admin/me -> the signed-in admin."""

from angebae import auth
from angebae.db import get_database
from angebae.http import create_app, json_body, json_response, source_ip
from angebae.passwords import MAX_LENGTH
from angebae.settings import get_settings
from pydantic import BaseModel, Field

app = create_app("login")
settings = get_settings()
settings.require("jwt_secret")


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


@app.route("/admin/login", methods=["POST"], public=True, body=LoginRequest,
           responses={200: "Session", 401: "Error", 429: "Error"})
def login():
    request = app.current_request
    body = json_body(request, LoginRequest)
    session = auth.login(get_database(), settings, body.email, body.password, source_ip(request))
    return json_response(
        {"admin": auth.public_admin(session.admin), "expires_at": session.expires_at.isoformat(),
         "token": session.token},
        headers={"Set-Cookie": auth.session_cookie(settings, session.token), "Cache-Control": "no-store"},
    )


@app.route("/admin/me", methods=["GET"], responses={200: "Me"})
def me():
    admin = app.signed_in()
    return json_response({"admin": auth.public_admin(admin)})
