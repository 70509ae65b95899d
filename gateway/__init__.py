"""The public REST surface under /api: auth, error mapping, OpenAPI. Owns no table."""
