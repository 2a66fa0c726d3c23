"""Categories: GET/POST /categories, PATCH/DELETE /categories/{id} (a tree; in-use deletes are 409)."""

from angebae import categories
from angebae.db import get_database
from angebae.http import create_app, json_body, json_response, path_uuid
from angebae.models import CategoryCreate, CategoryUpdate
from angebae.settings import get_settings

app = create_app("categories")
settings = get_settings()
settings.require("jwt_secret")


@app.route("/categories", methods=["GET"], responses={200: "CategoryList"})
def list_categories():
    app.signed_in()
    return json_response({"items": categories.list_categories(get_database())})


@app.route("/categories", methods=["POST"], body=CategoryCreate,
           responses={201: "Category", 409: "Error"})
def create_category():
    actor = app.signed_in("editor")
    body = json_body(app.current_request, CategoryCreate)
    return json_response(categories.create_category(get_database(), body, actor), 201)


@app.route("/categories/{id}", methods=["PATCH"], body=CategoryUpdate,
           responses={200: "Category", 409: "Error"})
def update_category(id):
    actor = app.signed_in("editor")
    body = json_body(app.current_request, CategoryUpdate)
    return json_response(categories.update_category(get_database(), path_uuid(id), body, actor))


@app.route("/categories/{id}", methods=["DELETE"], responses={200: "Deleted", 409: "Error"})
def delete_category(id):
    actor = app.signed_in("editor")
    categories.delete_category(get_database(), path_uuid(id), actor)
    return json_response({"deleted": True})
