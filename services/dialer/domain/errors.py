"""The named errors the dialer raises (the kernel keeps their base classes and the wire mapping)."""

from __future__ import annotations

from kernel import errors

DidNotFoundError = errors.named(errors.NotFoundError, "DidNotFoundError", "DID not found")
DidNotActiveError = errors.named(errors.PreconditionError, "DidNotActiveError", "DID is not active")
DidNotAccessibleError = errors.named(errors.PreconditionError, "DidNotAccessibleError",
                                     "DID is not available to this organization")
FlowNotFoundError = errors.named(errors.NotFoundError, "FlowNotFoundError", "Flow not found")
AudioNotFoundError = errors.named(errors.NotFoundError, "AudioNotFoundError", "Audio not found")
