"""The catalog: GET/POST /products, GET/PATCH/DELETE /products/{id} (DELETE archives; ?hard=true deletes),
GET /products/export (CSV or XLSX of the list's filters: a 303 to the file, presigned)."""

from angebae.aws import s3_client
from angebae.catalog import export, products
from angebae.db import get_database
from angebae.errors import StorageUnavailable
from angebae.http import create_app, json_body, json_response, location, path_uuid, query_model
from angebae.models import DeleteQuery, ProductCreate, ProductExportQuery, ProductQuery, ProductUpdate
from angebae.responses import Error, ExportLink, Product, ProductOrDeleted, ProductPage
from angebae.settings import get_settings
from angebae.storage import Storage

app = create_app("products")
settings = get_settings()
settings.require("jwt_secret")
bucket = settings.media_bucket  # products' image links are signed for it; without it, none


def storage() -> Storage | None:
    return Storage(s3_client(), bucket) if bucket else None


def product_response(product: dict, status: int = 200):
    headers = {"ETag": products.etag(product)}
    products.with_image_links(get_database(), storage(), [product])
    if status == 201:
        headers["Location"] = location(app.current_request, f"/products/{product['id']}")
    return json_response(product, status, headers=headers)


@app.route("/products", methods=["GET"], role="viewer", query=ProductQuery, responses={200: ProductPage})
def list_products():
    query = query_model(app.current_request, ProductQuery)
    page = products.list_products(get_database(), query)
    products.with_image_links(get_database(), storage(), page["items"])
    return json_response(page)


@app.route(
    "/products/export",
    methods=["GET"],
    query=ProductExportQuery,
    role="viewer",
    responses={303: ExportLink},
)
def export_products():
    """The products GET /products would list with these filters and sort (every page, at most
    25,000), as CSV or XLSX: 303 See Other to the file (a presigned link, 15 min)."""
    query = query_model(app.current_request, ProductExportQuery)
    if not bucket:
        raise StorageUnavailable("Exports need the media bucket (MEDIA_BUCKET is not set).")
    link = export.export_products(get_database(), Storage(s3_client(), bucket), query, query.format)
    return json_response(link, 303, headers={"Location": link["url"], "Cache-Control": "no-store"})


@app.route(
    "/products", methods=["POST"], role="editor", body=ProductCreate, responses={201: Product, 409: Error}
)
def create_product():
    actor = app.current_admin
    body = json_body(app.current_request, ProductCreate)
    return product_response(products.create_product(get_database(), body, actor), 201)


@app.route("/products/{id}", methods=["GET"], role="viewer", responses={200: Product})
def get_product(id):
    return product_response(products.get_product(get_database(), path_uuid(id)))


@app.route(
    "/products/{id}",
    methods=["PATCH"],
    role="editor",
    body=ProductUpdate,
    responses={200: Product, 409: Error, 412: Error, 428: Error},
)
def update_product(id):
    actor = app.current_admin
    request = app.current_request
    body = json_body(request, ProductUpdate)
    product = products.update_product(
        get_database(), path_uuid(id), body, actor, if_match=request.headers.get("if-match")
    )
    return product_response(product)


@app.route(
    "/products/{id}",
    methods=["DELETE"],
    role="editor",
    query=DeleteQuery,
    responses={200: ProductOrDeleted, 409: Error},
)
def delete_product(id):
    actor = app.current_admin
    if query_model(app.current_request, DeleteQuery).hard:
        products.delete_product(get_database(), path_uuid(id), actor)
        return json_response({"deleted": True})
    return product_response(products.archive_product(get_database(), path_uuid(id), actor))
