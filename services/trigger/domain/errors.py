"""The trigger context's named errors (kernel.errors keeps the base classes and the wire mapping).

Errors of the audience service it calls are recognised by name (errors.is_named), not imported.
"""

from __future__ import annotations

from kernel import errors

ExecutionNotFoundError = errors.named(errors.NotFoundError, "ExecutionNotFoundError", "Execution not found")
