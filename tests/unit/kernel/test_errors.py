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


@pytest.mark.parametrize("err, status", [
    (errors.ValidationError("name: required", field="name"), 400),
    (errors.ProgramNotFoundError(), 404),
    (errors.DidNotFoundError(), 404),
    (errors.DidNotActiveError(), 400),
    (errors.ExecutionAlreadyRunningError(), 400),
    (errors.ProgramStatusConflictError(), 409),
    (errors.UnauthorizedError(), 401),
    (errors.InvalidExecutionStateError(), 400),
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
