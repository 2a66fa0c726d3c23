"""Categories: GET/POST /categories, GET/PATCH/DELETE /categories/{id} (a tree; in-use deletes are 409).
Each category's `version` is its ETag; a PATCH names it (If-Match or "version"), a DELETE may."""

from angebae.catalog import categories
from angebae.concurrency import etag
from angebae.db import get_database
from angebae.http import create_app, json_body, json_response, location, path_uuid
from angebae.models import CategoryCreate, CategoryUpdate
from angebae.responses import Category, CategoryList, Deleted, Error
from angebae.settings import get_settings

app = create_app("categories")
settings = get_settings()
settings.require("jwt_secret")


def category_response(category: dict, status: int = 200):
    headers = {"ETag": etag(category["version"])}
    if status == 201:
        headers["Location"] = location(app.current_request, f"/categories/{category['id']}")
    return json_response(category, status, headers=headers)


@app.route("/categories", methods=["GET"], role="viewer", responses={200: CategoryList})
def list_categories():
    return json_response({"items": categories.list_categories(get_database())})


@app.route(
    "/categories", methods=["POST"], role="editor", body=CategoryCreate, responses={201: Category, 409: Error}
)
def create_category():
    actor = app.current_admin
    body = json_body(app.current_request, CategoryCreate)
    return category_response(categories.create_category(get_database(), body, actor), 201)


@app.route("/categories/{id}", methods=["GET"], role="viewer", responses={200: Category})
def get_category(id):
    return category_response(categories.get_category(get_database(), path_uuid(id)))


@app.route(
    "/categories/{id}",
    methods=["PATCH"],
    role="editor",
    body=CategoryUpdate,
    responses={200: Category, 409: Error, 412: Error, 428: Error},
)
def update_category(id):
    actor = app.current_admin
    request = app.current_request
    body = json_body(request, CategoryUpdate)
    return category_response(
        categories.update_category(
            get_database(), path_uuid(id), body, actor, if_match=request.headers.get("if-match")
        )
    )


@app.route(
    "/categories/{id}", methods=["DELETE"], role="editor", responses={200: Deleted, 409: Error, 412: Error}
)
def delete_category(id):
    actor = app.current_admin
    request = app.current_request
    categories.delete_category(get_database(), path_uuid(id), actor, if_match=request.headers.get("if-match"))
    return json_response({"deleted": True})
