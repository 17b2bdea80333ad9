"""Small real HTTP servers on 127.0.0.1 standing in for the credit service, Odoo's JSON-RPC and
the notification service. They record every call and can be told to fail, be slow, or be down
(stopped: connections are refused)."""

import asyncio
import contextlib
import random
import socket
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creativeflow.services.aigeneration.infrastructure.simulator.renderer import render_plain


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Behaviour:
    status: int | None = None  # answer calls with this status (e.g. 500)
    delay: float = 0.0  # seconds before answering
    only: set[str] = field(default_factory=set)  # the kinds of call affected; empty = all
    failure_rate: float = 1.0  # with `status`: the share of calls that fail


class StubServer:
    """Serves a Starlette app in the test's event loop; stop() makes it refuse connections."""

    def __init__(self, routes: list[Route]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.behaviour = Behaviour()
        self.calls: list[tuple[str, Any]] = []
        self._app = Starlette(routes=routes)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn offers no event
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._server = self._task = None

    async def misbehave(self, kind: str = "") -> Response | None:
        if self.behaviour.only and kind not in self.behaviour.only:
            return None
        if self.behaviour.delay:
            await asyncio.sleep(self.behaviour.delay)
        failing = random.random() < self.behaviour.failure_rate
        if self.behaviour.status is not None and failing:
            return JSONResponse({"detail": "stub told to fail"}, status_code=self.behaviour.status)
        return None


@dataclass
class CreditBook:
    """The money: balances, tiers, and the idempotency keys already used."""

    starting_balance: Decimal = Decimal(10)
    balances: dict[str, Decimal] = field(default_factory=dict)
    tiers: dict[str, str] = field(default_factory=dict)
    entries: dict[str, tuple[str, str, Decimal]] = field(
        default_factory=dict
    )  # key → (kind, user, amount)

    def balance(self, user: str) -> Decimal:
        return self.balances.setdefault(user, self.starting_balance)

    def debit(self, user: str, amount: Decimal, key: str) -> bool:
        if key in self.entries:
            return True
        if self.balance(user) < amount:
            return False
        self.balances[user] = self.balance(user) - amount
        self.entries[key] = ("debit", user, amount)
        return True

    def refund(self, user: str, amount: Decimal, key: str) -> None:
        if key not in self.entries:
            self.balances[user] = self.balance(user) + amount
            self.entries[key] = ("refund", user, amount)

    def total(self, kind: str, user: str | None = None) -> Decimal:
        return sum(
            (a for k, u, a in self.entries.values() if k == kind and user in (None, u)), Decimal(0)
        )


class CreditServiceStub(StubServer):
    def __init__(self) -> None:
        self.book = CreditBook()
        super().__init__(
            [
                Route("/users/{user_id}/credits", self._account, methods=["GET"]),
                Route("/debits", self._debit, methods=["POST"]),
                Route("/refunds", self._refund, methods=["POST"]),
            ]
        )

    async def _account(self, request: Request) -> Response:
        user = request.path_params["user_id"]
        self.calls.append(("account", user))
        if (failure := await self.misbehave("account")) is not None:
            return failure
        tier = self.book.tiers.get(user, "free")
        return JSONResponse({"balance": str(self.book.balance(user)), "subscription_tier": tier})

    async def _debit(self, request: Request) -> Response:
        body = await request.json()
        self.calls.append(("debit", body))
        if (failure := await self.misbehave("debit")) is not None:
            return failure
        ok = self.book.debit(body["user_id"], Decimal(body["amount"]), body["idempotency_key"])
        return JSONResponse({"ok": ok}, status_code=201 if ok else 402)

    async def _refund(self, request: Request) -> Response:
        body = await request.json()
        self.calls.append(("refund", body))
        if (failure := await self.misbehave("refund")) is not None:
            return failure
        self.book.refund(body["user_id"], Decimal(body["amount"]), body["idempotency_key"])
        return JSONResponse({"ok": True}, status_code=201)


class OdooStub(StubServer):
    """Odoo's /jsonrpc with `common.login` and `object.execute_kw` on the credit model."""

    DB, USER, PASSWORD, UID = "creativeflow", "svc-aigen", "api-key-1", 7

    def __init__(self) -> None:
        self.book = CreditBook()
        super().__init__([Route("/jsonrpc", self._rpc, methods=["POST"])])

    async def _rpc(self, request: Request) -> Response:
        body = await request.json()
        params = body["params"]
        self.calls.append((f"{params['service']}.{params['method']}", params["args"]))
        if (failure := await self.misbehave()) is not None:
            return failure
        if params["service"] == "common" and params["method"] == "login":
            ok = params["args"] == [self.DB, self.USER, self.PASSWORD]
            return self._result(body, self.UID if ok else False)
        db, uid, password, model, method, _args, kwargs = params["args"]
        if (db, uid, password) != (self.DB, self.UID, self.PASSWORD):
            return self._error(body, "odoo.exceptions.AccessDenied", "Access Denied")
        if model != "creativeflow.credit.account":
            return self._error(body, "builtins.KeyError", f"unknown model {model}")
        user = kwargs["user_id"]
        if method == "get_balance":
            tier = self.book.tiers.get(user, "free")
            return self._result(
                body, {"balance": float(self.book.balance(user)), "subscription_tier": tier}
            )
        if method == "debit_credits":
            if not self.book.debit(user, Decimal(kwargs["amount"]), kwargs["idempotency_key"]):
                return self._error(
                    body, "odoo.addons.creativeflow.InsufficientCredits", "balance too low"
                )
            return self._result(body, {"ok": True})
        if method == "refund_credits":
            self.book.refund(user, Decimal(kwargs["amount"]), kwargs["idempotency_key"])
            return self._result(body, {"ok": True})
        return self._error(body, "odoo.exceptions.UserError", f"no method {method}")

    @staticmethod
    def _result(request: dict[str, Any], result: Any) -> Response:
        return JSONResponse({"jsonrpc": "2.0", "id": request["id"], "result": result})

    @staticmethod
    def _error(request: dict[str, Any], name: str, message: str) -> Response:
        error = {
            "code": 200,
            "message": "Odoo Server Error",
            "data": {"name": name, "message": message},
        }
        return JSONResponse({"jsonrpc": "2.0", "id": request["id"], "error": error})


class NotificationServiceStub(StubServer):
    def __init__(self) -> None:
        super().__init__([Route("/notifications", self._notify, methods=["POST"])])

    async def _notify(self, request: Request) -> Response:
        body = await request.json()
        if (failure := await self.misbehave()) is not None:
            return failure
        self.calls.append(("notification", body))
        return JSONResponse({"id": len(self.calls)}, status_code=201)


class ImageModelStub(StubServer):
    """An image model speaking the OpenAI Images API, as the shipped n8n workflow calls it:
    `POST /v1/images/generations` `{"model", "prompt", "n", "size": "WxH", "response_format":
    "url"}` renders `n` real PNGs of that size and answers their URLs, served from here. A
    prompt containing REFUSE is refused the way OpenAI refuses one (400,
    `content_policy_violation`) and flagged by `POST /v1/moderations`; one containing FAIL
    fails (500); the first call with SLOW takes a while. The Bearer key must match."""

    REFUSE = "[refuse]"
    FAIL = "[model-fail]"
    SLOW = "[slow-once]"  # the first call with it takes SLOW_SECONDS
    SLOW_SECONDS = 15.0

    def __init__(self, api_key: str) -> None:
        super().__init__(
            [
                Route("/v1/images/generations", self._generate, methods=["POST"]),
                Route("/v1/moderations", self._moderate, methods=["POST"]),
                Route("/images/{name}", self._image, methods=["GET"]),
            ]
        )
        self.api_key = api_key
        self.images: dict[str, bytes] = {}
        self._slowed: set[str] = set()

    def prompts(self) -> list[str]:
        """The prompt of every image generation asked for, in order."""
        return [str(call["prompt"]) for kind, call in self.calls if kind == "generate"]

    async def _generate(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._openai_error(401, "invalid_api_key", "Incorrect API key provided.")
        body = await request.json()
        self.calls.append(("generate", body))
        prompt = str(body["prompt"])
        if self.REFUSE in prompt:
            return self._openai_error(
                400,
                "content_policy_violation",
                "Your request was rejected as a result of our safety system.",
            )
        if self.FAIL in prompt:
            return self._openai_error(500, None, "The server had an error processing your request.")
        if self.SLOW in prompt and prompt not in self._slowed:
            self._slowed.add(prompt)
            await asyncio.sleep(self.SLOW_SECONDS)
        width, height = (int(edge) for edge in str(body["size"]).split("x"))
        data = []
        for _ in range(int(body.get("n", 1))):
            name = f"img-{len(self.images)}.png"
            self.images[name] = await asyncio.to_thread(
                render_plain, f"{prompt}\x00{name}", width, height
            )
            data.append({"url": f"{self.url}/images/{name}", "revised_prompt": prompt})
        return JSONResponse({"created": 0, "data": data})

    async def _moderate(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._openai_error(401, "invalid_api_key", "Incorrect API key provided.")
        body = await request.json()
        self.calls.append(("moderate", body))
        flagged = self.REFUSE in str(body["input"])
        result = {"flagged": flagged, "categories": {"violence": flagged}}
        return JSONResponse({"id": "modr-stub", "model": body.get("model"), "results": [result]})

    async def _image(self, request: Request) -> Response:
        data = self.images.get(request.path_params["name"])
        if data is None:
            return JSONResponse({"detail": "no such image"}, status_code=404)
        return Response(data, media_type="image/png")

    @staticmethod
    def _openai_error(status: int, code: str | None, message: str) -> Response:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        error = {"message": message, "type": kind, "param": None, "code": code}
        return JSONResponse({"error": error}, status_code=status)
