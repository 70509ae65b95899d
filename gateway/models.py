"""Shared pieces of the REST models: camelCase names, unknown fields refused, proto ↔ JSON."""

from __future__ import annotations

import math
from typing import Annotated, Any

from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

# Integers of request bodies travel as protobuf int32: larger ones are a 400, never an overflow.
# The business ranges (and their messages) are the domain's.
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


class ApiModel(BaseModel):
    """Request bodies: camelCase fields, unknown fields are a 400 ValidationError."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        # Values must survive protobuf (UTF-8 text, finite numbers) and PostgreSQL (no NUL):
        # refuse the rest as a 400 here rather than fail on the way in.
        problem = _text_problem(value)
        if problem:
            raise ValueError(problem)
        return value


def _text_problem(value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):  # JSON has no Infinity or NaN
        return "must be a finite number"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return "integers beyond 2^53 cannot be kept exactly"  # free-form values travel as doubles
    if isinstance(value, str):
        if "\x00" in value:
            return "must not contain the NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode (no lone surrogate)"
        return None
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return None  # nested models check their own fields
    return next((p for p in map(_text_problem, items) if p), None)


class AutoPauseRuleIn(ApiModel):
    """One auto-pause rule, as a program and a resume both take it."""

    node_id: str = Field(description="A node of the flow; one rule per node")
    threshold: Int32 = Field(description=">= 1")
    reset_on_resume: bool = False


class ApiResponse(BaseModel):
    """Response bodies: camelCase on the wire, built from proto dicts."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def to_proto(data: dict[str, Any], message: Message) -> Message:
    """dict with camelCase (or snake_case) names → proto; unknown names are refused upstream."""
    return json_format.ParseDict(data, message, ignore_unknown_fields=False)


def body(model: BaseModel) -> dict[str, Any]:
    """The fields a client actually sent, by their API names."""
    return model.model_dump(by_alias=True, exclude_unset=True)


class ErrorBody(BaseModel):
    """Every error answer: `{"error": "<Name>", "message": "..."}`; each response of the OpenAPI
    document lists the names that route may answer with that status."""

    error: str = Field(description="The error's name, e.g. ValidationError, ProgramNotFoundError")
    message: str = Field(description="What went wrong, for a person; a field error starts with the field's path")
