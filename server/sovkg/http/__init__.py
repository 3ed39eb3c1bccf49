"""The HTTP plumbing around the application, one concern per module, as pure ASGI middleware:
request limits, security headers, the access log and the response cache (``stack`` puts them in
order), and uvicorn's protocols without the upgrade detour. Nothing below this package imports
from it."""
