import grpc
import pytest

from kernel import errors


class FakeRpcError(grpc.RpcError):
    """A finished call's status, as grpc.aio hands it to a client."""

    def __init__(self, code, details, trailing):
        self._code, self._details, self._trailing = code, details, trailing

    def code(self):
        return self._code

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._trailing


# Named errors as the contexts declare them (each in its domain/errors.py).
ProgramNotFoundError = errors.named(errors.NotFoundError, "ProgramNotFoundError", "Program not found")
DidNotFoundError = errors.named(errors.NotFoundError, "DidNotFoundError", "DID not found")
DidNotActiveError = errors.named(errors.PreconditionError, "DidNotActiveError", "DID is not active")
ExecutionAlreadyRunningError = errors.named(errors.PreconditionError, "ExecutionAlreadyRunningError",
                                            "Program already has a running execution")
ProgramStatusConflictError = errors.named(errors.ConflictError, "ProgramStatusConflictError",
                                          "Program status changed (concurrent operation)")
InvalidExecutionStateError = errors.named(errors.PreconditionError, "InvalidExecutionStateError",
                                          "Execution is not in a state that allows this")


@pytest.mark.parametrize("err, status", [
    (errors.ValidationError("name: required", field="name"), 400),
    (ProgramNotFoundError(), 404),
    (DidNotFoundError(), 404),
    (DidNotActiveError(), 400),
    (ExecutionAlreadyRunningError(), 400),
    (ProgramStatusConflictError(), 409),
    (errors.UnauthorizedError(), 401),
    (InvalidExecutionStateError(), 400),
])
def test_round_trip_keeps_name_message_field_and_http_status(err, status):
    wire = FakeRpcError(err.code, err.message, errors.to_trailing_metadata(err))
    back = errors.from_rpc_error(wire)
    assert type(back) is type(err)
    assert (back.name, back.message, back.field) == (err.name, err.message, err.field)
    assert errors.http_status(back) == status


def test_unknown_reason_keeps_its_name():
    err = errors.DomainError("boom", name="SomethingNewError")
    err.code = grpc.StatusCode.FAILED_PRECONDITION
    back = errors.from_rpc_error(FakeRpcError(err.code, "boom", errors.to_trailing_metadata(err)))
    assert back.name == "SomethingNewError" and errors.http_status(back) == 400


def test_status_without_details_maps_by_code():
    back = errors.from_rpc_error(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "bad", ()))
    assert back.name == "ValidationError" and errors.http_status(back) == 400
    back = errors.from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "down", ()))
    assert errors.http_status(back) == 503
