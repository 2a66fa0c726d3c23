"""POST /admin/logout -> the token's jti on the denylist, the cookie cleared."""

from angebae.auth import sessions
from angebae.db import get_database
from angebae.http import create_app, json_response, source_ip
from angebae.responses import LoggedOut
from angebae.settings import get_settings

app = create_app("logout")
settings = get_settings()
settings.require("jwt_secret")


@app.route("/admin/logout", methods=["POST"], role="viewer", setup_ok=True, responses={200: LoggedOut})
def logout():
    sessions.logout(get_database(), app.current_admin, source_ip(app.current_request))
    return json_response(
        {"logged_out": True},
        headers={"Set-Cookie": sessions.cleared_cookie(settings), "Cache-Control": "no-store"},
    )
