from .generation_request_repository import ConcurrentUpdate, GenerationRequestRepository, ListQuery

__all__ = ["ConcurrentUpdate", "GenerationRequestRepository", "ListQuery"]
