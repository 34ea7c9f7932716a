"""The orders API: a stand-in for an internal HTTP service that predates deskhand (it knows nothing of MCP).

Each tenant calls it with its own API key (`Authorization: Bearer KEY`, keys in the file ORDERS_API_KEYS, a line
`tenant key` each) and sees only its own orders, kept in the SQLite file ORDERS_API_DB. A POST with an
`Idempotency-Key` answers a repeat with the order it made. Run: `python api.py 127.0.0.1 8810`.
"""

import json
import os
import sqlite3
import sys
import uuid

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

db = sqlite3.connect(os.environ.get("ORDERS_API_DB", "orders-api.db"), check_same_thread=False)
db.execute("CREATE TABLE IF NOT EXISTS orders (tenant TEXT, id TEXT, body TEXT, status TEXT, idem TEXT)")
with open(os.environ.get("ORDERS_API_KEYS", "keys.txt"), encoding="utf-8") as lines:
    KEYS = {key: tenant for tenant, key in (line.split() for line in lines if line.strip())}


def order(row: tuple[str, str, str]) -> dict[str, object]:
    return {"id": row[0], **json.loads(row[1]), "status": row[2]}


def tenant_of(request: Request) -> str | None:
    return KEYS.get(request.headers.get("authorization", "").removeprefix("Bearer "))


async def get_order(request: Request) -> JSONResponse:
    if (tenant := tenant_of(request)) is None:
        return JSONResponse({"error": "unauthorized"}, 401)
    query = "SELECT id, body, status FROM orders WHERE tenant = ? AND id = ?"
    row = db.execute(query, (tenant, request.path_params["id"])).fetchone()
    return JSONResponse(order(row)) if row else JSONResponse({"error": "no such order"}, 404)


async def place_order(request: Request) -> JSONResponse:
    if (tenant := tenant_of(request)) is None:
        return JSONResponse({"error": "unauthorized"}, 401)
    body = await request.json()
    if not isinstance(body.get("item"), str) or not isinstance(body.get("quantity"), int) or body["quantity"] < 1:
        return JSONResponse({"error": "item and a quantity of at least 1"}, 422)
    key = request.headers.get("idempotency-key")
    query = "SELECT id, body, status FROM orders WHERE tenant = ? AND idem = ?"
    if key and (row := db.execute(query, (tenant, key)).fetchone()):
        return JSONResponse(order(row))  # a repeat: what the first request made
    row = (f"O-{uuid.uuid4().hex[:8]}", json.dumps({"item": body["item"], "quantity": body["quantity"]}), "placed")
    db.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", (tenant, *row, key))
    db.commit()
    return JSONResponse(order(row), 201)


async def cancel_order(request: Request) -> JSONResponse:
    response = await get_order(request)
    if response.status_code != 200:
        return response
    if json.loads(response.body)["status"] == "cancelled":
        return JSONResponse({"error": "already cancelled"}, 409)
    query = "UPDATE orders SET status = 'cancelled' WHERE tenant = ? AND id = ?"
    db.execute(query, (tenant_of(request), request.path_params["id"]))
    db.commit()
    return await get_order(request)


app = Starlette(
    routes=[
        Route("/orders", place_order, methods=["POST"]),
        Route("/orders/{id}", get_order),
        Route("/orders/{id}/cancel", cancel_order, methods=["POST"]),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host=sys.argv[1], port=int(sys.argv[2]), log_level="warning")
