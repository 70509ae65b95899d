"""The named errors the audience context raises (kernel.errors keeps the base classes)."""

from __future__ import annotations

from kernel import errors

ContactNotFoundError = errors.named(errors.NotFoundError, "ContactNotFoundError", "Contact not found")
AudienceNotFoundError = errors.named(errors.NotFoundError, "AudienceNotFoundError", "Audience not found")
AttributeNotFoundError = errors.named(errors.NotFoundError, "AttributeNotFoundError", "Custom attribute not found")
DncEntryNotFoundError = errors.named(errors.NotFoundError, "DncEntryNotFoundError",
                                     "This number is not on the do-not-call list")
ImportNotFoundError = errors.named(errors.NotFoundError, "ImportNotFoundError", "Import not found")
