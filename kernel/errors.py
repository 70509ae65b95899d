"""The one domain-error hierarchy of Outbound.

Every error carries its public name (the `error` of the REST body, the `reason` of the
gRPC ErrorInfo). Services raise these; the gRPC interceptor turns them into a status
with ErrorInfo; the gateway turns that status back into the same error and then into
HTTP. Nothing else maps errors.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

ERROR_DOMAIN = "outbound"
DETAILS_KEY = "grpc-status-details-bin"


class DomainError(Exception):
    """Base of every error a client may see. `name` is the public error name."""

    name = "InternalError"
    code = grpc.StatusCode.INTERNAL
    default_message = "Internal error"

    def __init__(self, message: str | None = None, *, field: str | None = None, name: str | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.field = field
        if name:
            self.name = name

    def __str__(self) -> str:
        return self.message


class ValidationError(DomainError):
    name = "ValidationError"
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_message = "Invalid request"


class BadRequestException(DomainError):
    name = "BadRequestException"
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_message = "Bad request"


class UnauthorizedError(DomainError):
    name = "UnauthorizedError"
    code = grpc.StatusCode.UNAUTHENTICATED
    default_message = "Missing or invalid API key"


class NotFoundError(DomainError):
    name = "NotFoundError"
    code = grpc.StatusCode.NOT_FOUND
    default_message = "Not found"


class PreconditionError(DomainError):
    """The request is well formed but the current state does not allow it (HTTP 400)."""

    name = "BadRequestException"
    code = grpc.StatusCode.FAILED_PRECONDITION


class ConflictError(DomainError):
    name = "ConflictError"
    code = grpc.StatusCode.ABORTED
    default_message = "Conflict with a concurrent change"


class AlreadyExistsError(DomainError):
    name = "ConflictError"
    code = grpc.StatusCode.ALREADY_EXISTS
    default_message = "Already exists"


class RateLimitedError(DomainError):
    name = "TooManyRequestsError"
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_message = "Too many requests"


class UnavailableError(DomainError):
    name = "ServiceUnavailableError"
    code = grpc.StatusCode.UNAVAILABLE
    default_message = "Service unavailable, try again"


# Every error by its public name: the base classes here, and each context's named errors
# (its domain/errors.py) as that module is imported. A name this process does not know is
# rebuilt as the base class of its status code, carrying the name.
_BY_NAME: dict[str, type[DomainError]] = {
    cls.name: cls for cls in [ValidationError, BadRequestException, UnauthorizedError, ConflictError,
                              RateLimitedError, UnavailableError]
}

_BASE_BY_CODE: dict[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: ValidationError,
    grpc.StatusCode.FAILED_PRECONDITION: PreconditionError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthorizedError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ABORTED: ConflictError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimitedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
}


def named(base: type[DomainError], name: str, message: str) -> type[DomainError]:
    """A named error of the spec (a class, so services raise it and tests catch it), registered so
    that a status carrying its name comes back as it. Naming the same error twice answers the
    same class: two contexts may both answer, say, ProgramNotFoundError."""
    known = _BY_NAME.get(name)
    if known is not None:
        if not issubclass(known, base):
            raise TypeError(f"{name} is already named with another base")
        return known
    cls = type(name, (base,), {"name": name, "default_message": message})
    _BY_NAME[name] = cls
    return cls


def is_named(err: BaseException, name: str) -> bool:
    """True when `err` is the domain error of that public name (how a context recognises another
    context's error without importing it)."""
    return isinstance(err, DomainError) and err.name == name


# gRPC status → HTTP status; the gateway's only table.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 404,  # tenants never learn another tenant's ids exist
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

_FALLBACK_NAMES = {
    grpc.StatusCode.INVALID_ARGUMENT: "ValidationError",
    grpc.StatusCode.NOT_FOUND: "NotFoundError",
    grpc.StatusCode.UNAUTHENTICATED: "UnauthorizedError",
    grpc.StatusCode.UNAVAILABLE: "ServiceUnavailableError",
    grpc.StatusCode.DEADLINE_EXCEEDED: "ServiceUnavailableError",
}


def to_status_proto(err: DomainError) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason=err.name, domain=ERROR_DOMAIN)
    if err.field:
        info.metadata["field"] = err.field
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(code=err.code.value[0], message=err.message, details=[detail])


def to_trailing_metadata(err: DomainError) -> tuple[tuple[str, bytes], ...]:
    return ((DETAILS_KEY, to_status_proto(err).SerializeToString()),)


def from_rpc_error(exc: grpc.RpcError) -> DomainError:
    """Rebuild the domain error a service raised from the status it answered."""
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    message = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
    metadata = exc.trailing_metadata() if callable(getattr(exc, "trailing_metadata", None)) else None
    for key, value in metadata or ():
        if key == DETAILS_KEY:
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
                    cls = _BY_NAME.get(info.reason)
                    field = info.metadata.get("field") or None
                    if cls is not None:
                        return cls(status.message, field=field)
                    err = _BASE_BY_CODE.get(code, DomainError)(status.message, field=field, name=info.reason)
                    err.code = code
                    return err
    name = _FALLBACK_NAMES.get(code, "InternalError")
    cls = _BY_NAME.get(name, DomainError)
    err = cls(message or name)
    err.code = code
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        err.name = "ValidationError"
    return err


def http_status(err: DomainError) -> int:
    return HTTP_STATUS.get(err.code, 500)


__all__ = [name for name in dir() if name.endswith(("Error", "Exception"))] + [
    "from_rpc_error", "http_status", "is_named", "named", "to_status_proto", "to_trailing_metadata",
]

