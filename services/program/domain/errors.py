"""The program context's named errors (kernel.errors keeps the base classes and the wire mapping)."""

from __future__ import annotations

from kernel import errors

ProgramNotFoundError = errors.named(errors.NotFoundError, "ProgramNotFoundError", "Program not found")
