"""The webhooks context's named errors (kernel.errors keeps the base classes and the wire mapping)."""

from __future__ import annotations

from kernel import errors

WebhookNotFoundError = errors.named(errors.NotFoundError, "WebhookNotFoundError", "Webhook not found")
