"""Custom-attribute slugs: the stable key of an attribute in contact data and triggers."""

from __future__ import annotations

import re
import unicodedata

MAX_SLUG_LENGTH = 64
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


def derive_slug(name: str) -> str:
    """"Date d'échéance" → "date_d_echeance": accents folded, lowercase, every run of
    non-alphanumerics one "_", none at either end. "" when nothing usable is left."""
    folded = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_only).strip("_")
    return slug[:MAX_SLUG_LENGTH].rstrip("_")


def is_valid_slug(slug: str) -> bool:
    return len(slug) <= MAX_SLUG_LENGTH and bool(SLUG_PATTERN.match(slug))
