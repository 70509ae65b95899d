"""The named errors the execution context raises (kernel.errors keeps the base classes).

ProgramNotFoundError is the program context's public error too: an execution names it because
its launch answers it for an archived program (named() answers the same class in both)."""

from __future__ import annotations

from kernel import errors

ExecutionNotFoundError = errors.named(errors.NotFoundError, "ExecutionNotFoundError", "Execution not found")
InvalidExecutionStateError = errors.named(errors.PreconditionError, "InvalidExecutionStateError",
                                          "Execution is not in a state that allows this")
ExecutionAlreadyRunningError = errors.named(errors.PreconditionError, "ExecutionAlreadyRunningError",
                                            "Program already has a running execution")
EmptyDidPoolError = errors.named(errors.PreconditionError, "EmptyDidPoolError",
                                 "All DIDs have been deleted since program creation")
AudienceEmptyError = errors.named(errors.PreconditionError, "AudienceEmptyError", "Audience has no contacts")
ProgramStatusConflictError = errors.named(errors.ConflictError, "ProgramStatusConflictError",
                                          "Program status changed (concurrent operation)")
ProgramNotFoundError = errors.named(errors.NotFoundError, "ProgramNotFoundError", "Program not found")
# The audience context's public error too: a contact that is not one of the execution's.
ContactNotFoundError = errors.named(errors.NotFoundError, "ContactNotFoundError", "Contact not found")
