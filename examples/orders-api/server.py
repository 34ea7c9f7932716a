"""The guarded MCP server in front of the orders API (api.py): its tools call the API for the caller's tenant.

The tenant comes from the verified token, never from a tool's arguments; each tenant's API key comes from the
secrets file ORDERS_API_SECRETS (mode 0600, `[tenants.acme] token = "..."`); the API is at ORDERS_API_URL.
Run: `python server.py 127.0.0.1 8811` (it trusts the tokens of the deskhand home in DESKHAND_HOME).
"""

import os
import sys
from pathlib import Path

import uvicorn

from mcp_servers import kit
from schemas import Input, Output, ToolSpec


class OrderIn(Input):
    order_id: str


class PlaceIn(Input):
    item: str
    quantity: int


class Order(Output):
    id: str
    item: str
    quantity: int
    status: str


def spec(name: str, scope: str, side_effect: str, input: type[Input], **facts: bool) -> ToolSpec:
    title = name.replace("_", " ").capitalize()
    about = {"description": f"{title} of the caller's tenant.", "scope": scope, "side_effect": side_effect}
    return ToolSpec(server="orders", name=name, title=title, input=input, output=Order, **about, **facts)


GET = spec("get_order", "orders:read", "read", OrderIn)
PLACE = spec("place_order", "orders:write", "write", PlaceIn)
CANCEL = spec("cancel_order", "orders:write", "write", OrderIn, idempotent=True)


def build(db: kit.Database, settings: kit.BoundarySettings | None = None) -> kit.GuardedServer:
    secrets = Path(os.environ["ORDERS_API_SECRETS"])
    api = kit.Upstream(kit.tenant_upstreams(os.environ["ORDERS_API_URL"], secrets), name="orders-api")
    server = kit.GuardedServer("orders", db=db, settings=settings)

    def get_order(args: OrderIn, _: kit.TenantSession) -> Order:
        return Order.model_validate(api.get("/orders/{id}", id=args.order_id))

    def place_order(args: PlaceIn, _: kit.TenantSession) -> Order:
        return Order.model_validate(api.post("/orders", json=args.model_dump()))

    def cancel_order(args: OrderIn, _: kit.TenantSession) -> Order:
        return Order.model_validate(api.post("/orders/{id}/cancel", id=args.order_id))

    for tool, handler in ((GET, get_order), (PLACE, place_order), (CANCEL, cancel_order)):
        server.add_tool(tool, handler, blocking=True)  # the handlers wait on the API: in worker threads
    return server


package = kit.ServerPackage("orders", build, (GET, PLACE, CANCEL), description="Orders, from the orders API.")

if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    url, home = f"http://{host}:{port}/mcp", Path(os.environ.get("DESKHAND_HOME", "~/.deskhand")).expanduser()
    server = build(kit.Database(f"sqlite:///{Path('orders-mcp.db').resolve()}"))
    server.create_tables()  # the kit's audit and idempotency records
    keys = kit.KeySet.from_file(home / "keys" / "jwks.json")
    verifier = kit.JwtVerifier(keys, issuer="http://127.0.0.1:8700", audience=url)
    uvicorn.run(server.http_app(verifier, resource_url=url), host=host, port=port, log_level="warning")
