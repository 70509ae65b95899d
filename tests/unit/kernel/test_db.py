"""What the gRPC runtime makes of a database error no use case handled."""

import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError

from kernel import db, errors
from kernel.grpc_server import ERROR_TRANSLATORS


def test_a_value_the_database_refuses_is_the_callers():
    refusal = DBAPIError("INSERT …", {}, psycopg.errors.StringDataRightTruncation("value too long\nDETAIL: …"))
    err = db.refused_value(refusal)
    assert isinstance(err, errors.ValidationError)
    assert err.message == "invalid value: value too long"


def test_other_errors_are_not_translated():
    assert db.refused_value(OperationalError("SELECT 1", {}, psycopg.OperationalError("down"))) is None
    assert db.refused_value(ValueError("x")) is None


def test_the_runtime_asks_the_database_translator():
    assert db.refused_value in ERROR_TRANSLATORS
