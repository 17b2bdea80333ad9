"""Small real HTTP servers on 127.0.0.1 standing in for the credit service, Odoo's JSON-RPC and
the notification service. They record every call and can be told to fail, be slow, or be down
(stopped: connections are refused)."""

import asyncio
import base64
import contextlib
import io
import random
import socket
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import uvicorn
from PIL import Image
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
    hold: asyncio.Event | None = (
        None  # calls wait until it is set: slow for as long as a test likes
    )


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
        self.held = 0  # calls waiting on `behaviour.hold` now
        self._held_changed = asyncio.Condition()

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

    async def until_held(self, count: int) -> None:
        """Until `count` calls wait on `behaviour.hold`."""
        async with self._held_changed:
            await self._held_changed.wait_for(lambda: self.held >= count)

    async def _count_held(self, change: int) -> None:
        async with self._held_changed:
            self.held += change
            self._held_changed.notify_all()

    async def misbehave(self, kind: str = "") -> Response | None:
        if self.behaviour.only and kind not in self.behaviour.only:
            return None
        if self.behaviour.delay:
            await asyncio.sleep(self.behaviour.delay)
        if (hold := self.behaviour.hold) is not None and not hold.is_set():
            await self._count_held(+1)
            await hold.wait()
            await self._count_held(-1)
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


# What OpenAI's image models accept (PROVIDERS.md): sizes, how many images a call, edits.
MODEL_SIZES = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536", "auto"),
}
MAX_IMAGES = {"dall-e-2": 10, "dall-e-3": 1, "gpt-image-1": 10}
EDITS = {"dall-e-2", "gpt-image-1"}


class ImageModelStub(StubServer):
    """An image model speaking the OpenAI Images API, as strict as OpenAI's own models:
    `POST /v1/images/generations` (JSON) and `POST /v1/images/edits` (multipart, the input
    image(s) in `image` or `image[]`) take only the sizes, image counts and parameters the
    named model takes, and refuse the rest with OpenAI's error body (400,
    `invalid_request_error`, the offending `param`). gpt-image-1 answers base64 only (a
    `response_format` is refused); dall-e models answer `url` (served from here) or `b64_json`.
    A generation is a solid colour drawn from the prompt and the image's index; an edit is its
    (first) input image at the asked size, so a final can be traced to its sample. A prompt
    containing REFUSE is refused as OpenAI refuses one (400, `content_policy_violation`) and
    flagged by `POST /v1/moderations`; one containing FAIL fails (500); the first call with
    SLOW takes a while. The Bearer key must match."""

    REFUSE = "[refuse]"
    FAIL = "[model-fail]"
    SLOW = "[slow-once]"  # the first call with it takes SLOW_SECONDS
    SLOW_SECONDS = 15.0

    def __init__(self, api_key: str) -> None:
        super().__init__(
            [
                Route("/v1/images/generations", self._generate, methods=["POST"]),
                Route("/v1/images/edits", self._edit, methods=["POST"]),
                Route("/v1/moderations", self._moderate, methods=["POST"]),
                Route("/images/{name}", self._image, methods=["GET"]),
            ]
        )
        self.api_key = api_key
        self.images: dict[str, bytes] = {}
        self.refusals: list[dict[str, Any]] = []  # every 400 answered, with its body
        self._slowed: set[str] = set()

    def prompts(self) -> list[str]:
        """The prompt of every image asked for (generations and edits), in order."""
        return [str(call["prompt"]) for kind, call in self.calls if kind in ("generate", "edit")]

    async def _generate(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._openai_error(401, "invalid_api_key", "Incorrect API key provided.")
        body = await request.json()
        self.calls.append(("generate", body))
        refused = self._refuse_parameters(body, "generations")
        if refused is not None:
            return refused
        failure = await self._prompt_failure(str(body["prompt"]))
        if failure is not None:
            return failure
        width, height = self._size(body)
        pictures = [
            await asyncio.to_thread(render_plain, f"{body['prompt']}\x00{i}", width, height)
            for i in range(int(body.get("n", 1)))
        ]
        return self._answer(body, pictures)

    async def _edit(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._openai_error(401, "invalid_api_key", "Incorrect API key provided.")
        form = await request.form()
        body = {k: v for k, v in form.items() if isinstance(v, str)}
        files = [
            v for k, v in form.multi_items() if k in ("image", "image[]") and not isinstance(v, str)
        ]
        inputs = [await f.read() for f in files]  # type: ignore[union-attr]
        self.calls.append(("edit", {**body, "images": inputs}))
        refused = self._refuse_parameters(body, "edits")
        if refused is not None:
            return refused
        if not inputs:
            return self._invalid("image", "Missing required parameter: 'image'.")
        model = body.get("model", "dall-e-2")
        problem = await asyncio.to_thread(_input_image_problem, model, inputs[0])
        if problem:
            return self._invalid("image", problem)
        failure = await self._prompt_failure(str(body["prompt"]))
        if failure is not None:
            return failure
        size = self._size(body)
        picture = await asyncio.to_thread(_resized_png, inputs[0], size)
        return self._answer(body, [picture] * int(body.get("n", 1)))

    def _refuse_parameters(self, body: dict[str, Any], endpoint: str) -> Response | None:
        model = str(body.get("model") or "dall-e-2")
        if model not in MODEL_SIZES:
            return self._invalid("model", f"The model '{model}' does not exist.", 404)
        if endpoint == "edits" and model not in EDITS:
            return self._invalid("model", f"The model '{model}' does not support image edits.")
        size = str(body.get("size") or ("auto" if model == "gpt-image-1" else "1024x1024"))
        if size not in MODEL_SIZES[model]:
            allowed = ", ".join(f"'{s}'" for s in MODEL_SIZES[model])
            return self._invalid(
                "size", f"Invalid value: '{size}'. Supported values are: {allowed}."
            )
        n = int(body.get("n") or 1)
        if not 1 <= n <= MAX_IMAGES[model]:
            return self._invalid("n", f"Invalid 'n': {model} takes 1 to {MAX_IMAGES[model]}.")
        if model == "gpt-image-1" and "response_format" in body:
            return self._invalid("response_format", "Unknown parameter: 'response_format'.")
        if body.get("response_format") not in (None, "url", "b64_json"):
            return self._invalid("response_format", "Invalid value for 'response_format'.")
        return None

    async def _prompt_failure(self, prompt: str) -> Response | None:
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
        return None

    @staticmethod
    def _size(body: dict[str, Any]) -> tuple[int, int]:
        size = str(body.get("size") or "1024x1024")
        if size == "auto":
            return 1024, 1024
        width, height = (int(edge) for edge in size.split("x"))
        return width, height

    def _answer(self, body: dict[str, Any], pictures: list[bytes]) -> Response:
        as_url = body.get("response_format", "url" if body.get("model") != "gpt-image-1" else None)
        data = []
        for picture in pictures:
            if as_url == "url":
                name = f"img-{len(self.images)}.png"
                self.images[name] = picture
                data.append({"url": f"{self.url}/images/{name}"})
            else:
                data.append({"b64_json": base64.b64encode(picture).decode()})
        return JSONResponse({"created": 0, "data": data})

    async def _moderate(self, request: Request) -> Response:
        if not self._authorized(request):
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

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    def _invalid(self, param: str, message: str, status: int = 400) -> Response:
        error = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
        self.refusals.append(error)
        return JSONResponse({"error": error}, status_code=status)

    @staticmethod
    def _openai_error(status: int, code: str | None, message: str) -> Response:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        error = {"message": message, "type": kind, "param": None, "code": code}
        return JSONResponse({"error": error}, status_code=status)


def _input_image_problem(model: str, data: bytes) -> str | None:
    """What OpenAI says of an input image it does not take, or None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, mode, size = image.format, image.mode, image.size
    except OSError:
        return "Invalid input image - the image could not be read."
    if model == "dall-e-2":
        if fmt != "PNG" or len(data) >= 4 * 1024 * 1024 or size[0] != size[1]:
            return "Invalid input image - must be a square PNG of less than 4 MB."
        if mode not in ("RGBA", "LA", "L"):
            return f"Invalid input image - format must be in ['RGBA', 'LA', 'L'], got {mode}."
    elif fmt not in ("PNG", "JPEG", "WEBP") or len(data) >= 50 * 1024 * 1024:
        return "Invalid input image - must be a png, webp or jpg file of less than 50 MB."
    return None


def _resized_png(data: bytes, size: tuple[int, int]) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        resized = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    resized.save(buffer, "PNG")
    return buffer.getvalue()
