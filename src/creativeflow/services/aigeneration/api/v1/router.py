from fastapi import APIRouter

from .endpoints import (
    admin,
    assets,
    credits,
    events,
    formats,
    generation_requests,
    jobs,
    n8n_callbacks,
)

api_router = APIRouter()
api_router.include_router(generation_requests.router)
api_router.include_router(events.router)
api_router.include_router(n8n_callbacks.router)
api_router.include_router(formats.router)
api_router.include_router(assets.router)
api_router.include_router(credits.router)
api_router.include_router(jobs.router)
api_router.include_router(admin.router)
