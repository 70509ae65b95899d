"""The named errors the account context raises (kernel.errors keeps the base classes).

An unknown reservation id is the plain NotFoundError (no name of its own): the API has always
answered it so, and the dialer reads it by that name."""

from __future__ import annotations

from kernel import errors

OrganizationNotFoundError = errors.named(errors.NotFoundError, "OrganizationNotFoundError", "Organization not found")
ApiKeyNotFoundError = errors.named(errors.NotFoundError, "ApiKeyNotFoundError", "API key not found")


def reservation_not_found() -> errors.NotFoundError:
    return errors.NotFoundError("Reservation not found")
