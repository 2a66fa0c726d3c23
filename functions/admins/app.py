"""Admins only: GET/POST /admin/users, PATCH /admin/users/{id}, GET /audit; DELETE
/admin/users/{id}/two-factor, GET/PATCH /admin/roles, POST /admin/unlock."""

from angebae.auth import admins
from angebae.auth.admins import RolePolicy, Unlock
from angebae.concurrency import etag
from angebae.db import get_database
from angebae.http import create_app, json_body, json_response, location, path_uuid, query_model
from angebae.models import AdminCreate, AdminUpdate, AuditQuery, ListQuery
from angebae.responses import Admin, AdminPage, AuditPage, Error, RolePolicies, Unlocked
from angebae.settings import get_settings

app = create_app("admins")
settings = get_settings()
settings.require("jwt_secret")


@app.route("/admin/users", methods=["GET"], role="admin", query=ListQuery, responses={200: AdminPage})
def list_admins():
    return json_response(admins.list_admins(get_database(), query_model(app.current_request, ListQuery)))


def admin_response(admin: dict, status: int = 200):
    """An admin user with its ETag (its version), and on 201 where it can be read."""
    headers = {"ETag": etag(admin["version"])}
    if status == 201:
        headers["Location"] = location(app.current_request, f"/admin/users/{admin['id']}")
    return json_response(admin, status, headers=headers)


@app.route(
    "/admin/users", methods=["POST"], role="admin", body=AdminCreate, responses={201: Admin, 409: Error}
)
def create_admin():
    actor = app.current_admin
    body = json_body(app.current_request, AdminCreate)
    return admin_response(admins.create_admin(get_database(), settings, body, actor), 201)


@app.route("/admin/users/{id}", methods=["GET"], role="admin", responses={200: Admin})
def get_admin(id):
    return admin_response(admins.get_admin(get_database(), path_uuid(id)))


@app.route(
    "/admin/users/{id}",
    methods=["PATCH"],
    role="admin",
    body=AdminUpdate,
    responses={200: Admin, 409: Error, 412: Error, 428: Error},
)
def update_admin(id):
    actor = app.current_admin
    request = app.current_request
    body = json_body(request, AdminUpdate)
    return admin_response(
        admins.update_admin(
            get_database(), settings, path_uuid(id), body, actor, if_match=request.headers.get("if-match")
        )
    )


@app.route("/audit", methods=["GET"], role="admin", query=AuditQuery, responses={200: AuditPage})
def list_audit():
    return json_response(admins.list_audit(get_database(), query_model(app.current_request, AuditQuery)))


# --- second factors, role policies, unlocking (issue 14) ---------------------------------------------


@app.route(
    "/admin/users/{id}/two-factor", methods=["DELETE"], role="admin", responses={200: Admin, 409: Error}
)
def reset_two_factor(id):
    """Reset another admin's second factor (audited); their sessions end"""
    actor = app.current_admin
    return json_response(admins.reset_two_factor(get_database(), path_uuid(id), actor))


@app.route("/admin/roles", methods=["GET"], role="admin", responses={200: RolePolicies})
def list_role_policies():
    """What each role requires: two-factor sign-in or not"""
    return json_response(admins.role_policies(get_database()))


@app.route(
    "/admin/roles",
    methods=["PATCH"],
    role="admin",
    body=RolePolicy,
    responses={200: RolePolicies, 409: Error},
)
def set_role_policy():
    """Require (or stop requiring) two-factor sign-in for every account of a role (audited)"""
    actor = app.current_admin
    body = json_body(app.current_request, RolePolicy)
    return json_response(admins.set_role_policy(get_database(), body, actor))


@app.route("/admin/unlock", methods=["POST"], role="admin", body=Unlock, responses={200: Unlocked})
def unlock():
    """Clear the login failures of an account, an address, or both (audited)"""
    actor = app.current_admin
    body = json_body(app.current_request, Unlock)
    return json_response(admins.unlock(get_database(), settings, body, actor))
