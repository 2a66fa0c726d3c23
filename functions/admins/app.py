"""Admins only: GET/POST /admin/users, PATCH /admin/users/{id}, GET /audit; DELETE
/admin/users/{id}/two-factor, GET/PATCH /admin/roles, POST /admin/unlock."""

from angebae.auth import admins
from angebae.auth.admins import RolePolicy, Unlock
from angebae.concurrency import etag
from angebae.db import get_database
from angebae.http import create_app, json_body, json_response, location, path_uuid, query_model
from angebae.models import AdminCreate, AdminUpdate, AuditQuery, ListQuery
from angebae.settings import get_settings

app = create_app("admins")
settings = get_settings()
settings.require("jwt_secret")


@app.route("/admin/users", methods=["GET"], query=ListQuery, responses={200: "AdminPage"})
def list_admins():
    app.signed_in("admin")
    return json_response(admins.list_admins(get_database(), query_model(app.current_request, ListQuery)))


def admin_response(admin: dict, status: int = 200):
    """An admin user with its ETag (its version), and on 201 where it can be read."""
    headers = {"ETag": etag(admin["version"])}
    if status == 201:
        headers["Location"] = location(app.current_request, f"/admin/users/{admin['id']}")
    return json_response(admin, status, headers=headers)


@app.route("/admin/users", methods=["POST"], body=AdminCreate, responses={201: "Admin", 409: "Error"})
def create_admin():
    actor = app.signed_in("admin")
    body = json_body(app.current_request, AdminCreate)
    return admin_response(admins.create_admin(get_database(), settings, body, actor), 201)


@app.route("/admin/users/{id}", methods=["GET"], responses={200: "Admin"})
def get_admin(id):
    app.signed_in("admin")
    return admin_response(admins.get_admin(get_database(), path_uuid(id)))


@app.route("/admin/users/{id}", methods=["PATCH"], body=AdminUpdate,
           responses={200: "Admin", 409: "Error", 412: "Error", 428: "Error"})
def update_admin(id):
    actor = app.signed_in("admin")
    request = app.current_request
    body = json_body(request, AdminUpdate)
    return admin_response(admins.update_admin(get_database(), settings, path_uuid(id), body, actor,
                                                   if_match=request.headers.get("if-match")))


@app.route("/audit", methods=["GET"], query=AuditQuery, responses={200: "AuditPage"})
def list_audit():
    app.signed_in("admin")
    return json_response(admins.list_audit(get_database(), query_model(app.current_request, AuditQuery)))


# --- second factors, role policies, unlocking (issue 14) ---------------------------------------------

@app.route("/admin/users/{id}/two-factor", methods=["DELETE"], responses={200: "Admin", 409: "Error"})
def reset_two_factor(id):
    """Reset another admin's second factor (audited); their sessions end"""
    actor = app.signed_in("admin")
    return json_response(admins.reset_two_factor(get_database(), path_uuid(id), actor))


@app.route("/admin/roles", methods=["GET"], responses={200: "RolePolicies"})
def list_role_policies():
    """What each role requires: two-factor sign-in or not"""
    app.signed_in("admin")
    return json_response(admins.role_policies(get_database()))


@app.route("/admin/roles", methods=["PATCH"], body=RolePolicy, responses={200: "RolePolicies", 409: "Error"})
def set_role_policy():
    """Require (or stop requiring) two-factor sign-in for every account of a role (audited)"""
    actor = app.signed_in("admin")
    body = json_body(app.current_request, RolePolicy)
    return json_response(admins.set_role_policy(get_database(), body, actor))


@app.route("/admin/unlock", methods=["POST"], body=Unlock, responses={200: "Unlocked"})
def unlock():
    """Clear the login failures of an account, an address, or both (audited)"""
    actor = app.signed_in("admin")
    body = json_body(app.current_request, Unlock)
    return json_response(admins.unlock(get_database(), settings, body, actor))
