"""The package's exceptions, each with the HTTP status and the exit code it maps to.

Everything here derives from :class:`SovkgError`; the HTTP layer answers ``e.status`` with the
message, the command line exits with ``e.exit_code``. Where an error also is a built-in kind
(``ValueError``, ``TimeoutError``), it keeps that base, so code that catches the built-in still
sees it. This module imports nothing from the package: every layer may raise these.
"""

from __future__ import annotations

#: exit codes of ``sovkg``
EXIT_FAILED = 1
EXIT_USAGE = 2


class SovkgError(Exception):
    """Base of the package's errors: a server-side failure unless a subclass says otherwise."""

    status: int = 500
    exit_code: int = EXIT_FAILED


class ClientError(SovkgError):
    """The request or the input is at fault (4xx; exit code 2 on the command line)."""

    status = 400
    exit_code = EXIT_USAGE


class StatusError(ClientError):
    """A client error whose status is decided where it is raised (401, 413, 415, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---- input: files, formats, requests ------------------------------------------------------


class LoadError(ClientError):
    """An RDF file that cannot be read: says which file, where, and what is wrong."""


class BadHost(ClientError, ValueError):
    """The request's ``Host`` (or forwarding headers) gives no base URL to write IRIs under."""


class UnknownFormatError(ClientError, ValueError):
    """A file name, format name or ``?format=`` value that names no syntax we offer."""


class ProtocolError(StatusError):
    """A request the SPARQL protocol rejects: the status, a plain-text message, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, message)
        self.headers = headers or {}


class InputError(StatusError):
    """Posted data the SHACL endpoint cannot take: the status and a plain message."""


class UsingConflictError(ClientError, ValueError):
    """The update names its own dataset (USING, USING NAMED, WITH) and the request one too."""


# ---- running operations -------------------------------------------------------------------


class OutboundRefused(ClientError, ValueError):
    """The operation would make the server send a request that the operator has not allowed."""


class TooDeep(ClientError, ValueError):
    """The operation is structured more deeply than the engine can parse and evaluate safely
    (nested groups, brackets and chained operators, see ``sovkg.sparql.lexer.depth``)."""


class OperationFailed(ClientError, ValueError):
    """The store could not carry out a well-formed operation, for a reason of the operation's
    own (a graph that already exists, an unbound SERVICE variable, ...)."""


class UpstreamFailed(SovkgError):
    """An allowed SERVICE or LOAD endpoint could not be reached or gave a bad answer."""

    status = 502


class QueryTimeout(SovkgError):
    """An operation ran past the time limit; its worker was killed."""

    status = 503


#: the same failure, for jobs that are not queries (SHACL validations)
JobTimeout = QueryTimeout


class WorkersBusy(SovkgError):
    """No worker became free within the time limit, or a cap on concurrent jobs was reached;
    ``retry_after`` is the Retry-After the client gets (seconds)."""

    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkerFailed(SovkgError):
    """A worker died while running an operation (for example out of memory)."""

    status = 503


class MemoryLimitReached(WorkerFailed):
    """A job needed more memory than a worker may have; its worker was ended and replaced."""

    def __init__(self, limit_mib: int, what: str = "this operation") -> None:
        super().__init__(
            f"the memory limit of {limit_mib} MiB per worker was reached while running {what}; "
            "it was stopped"
        )
        self.limit_mib = limit_mib
        self.what = what

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.limit_mib, self.what))


class EngineCrashed(WorkerFailed):
    """The query engine (pyoxigraph) crashed on a job; the message names the job."""


# ---- a SPARQL backend over HTTP (``--backend``) -------------------------------------------


class BackendUnavailable(SovkgError):
    """The backend could not be reached, or answered with a server error."""

    status = 502


class BackendTimeout(SovkgError, TimeoutError):
    """The backend gave no complete answer within the query time limit."""

    status = 503


class BackendRejected(ClientError, ValueError):
    """The backend refused the operation for a reason of the operation's own (HTTP 4xx)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
