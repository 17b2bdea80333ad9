from fastapi import APIRouter

from .endpoints import assets, credits, events, formats, generation_requests, n8n_callbacks

api_router = APIRouter()
api_router.include_router(generation_requests.router)
api_router.include_router(events.router)
api_router.include_router(n8n_callbacks.router)
api_router.include_router(formats.router)
api_router.include_router(assets.router)
api_router.include_router(credits.router)
