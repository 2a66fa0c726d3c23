"""Admins only: GET/POST /admin/users, PATCH /admin/users/{id}, GET /audit."""

from angebae import admin_users
from angebae.db import get_database
from angebae.http import create_app, json_body, json_response, path_uuid, query_model
from angebae.models import AdminCreate, AdminUpdate, AuditQuery, ListQuery
from angebae.settings import get_settings

app = create_app("admins")
settings = get_settings()
settings.require("jwt_secret")


@app.route("/admin/users", methods=["GET"], query=ListQuery, responses={200: "AdminPage"})
def list_admins():
    app.signed_in("admin")
    return json_response(admin_users.list_admins(get_database(), query_model(app.current_request, ListQuery)))


@app.route("/admin/users", methods=["POST"], body=AdminCreate, responses={201: "Admin", 409: "Error"})
def create_admin():
    actor = app.signed_in("admin")
    body = json_body(app.current_request, AdminCreate)
    return json_response(admin_users.create_admin(get_database(), settings, body, actor), 201)


@app.route("/admin/users/{id}", methods=["PATCH"], body=AdminUpdate,
           responses={200: "Admin", 409: "Error"})
def update_admin(id):
    actor = app.signed_in("admin")
    body = json_body(app.current_request, AdminUpdate)
    return json_response(admin_users.update_admin(get_database(), settings, path_uuid(id), body, actor))


@app.route("/audit", methods=["GET"], query=AuditQuery, responses={200: "AuditPage"})
def list_audit():
    app.signed_in("admin")
    return json_response(admin_users.list_audit(get_database(), query_model(app.current_request, AuditQuery)))
