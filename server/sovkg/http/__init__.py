"""The HTTP plumbing around the application, one concern per module: request limits, security
headers, the access log and the response cache, which ``front`` calls in order for every
request, and uvicorn's protocols without the upgrade detour. Nothing below this package imports
from it."""
