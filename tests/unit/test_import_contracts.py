"""Every use-case module of every context is inside its context's layers contract.

import-linter only constrains the modules a contract names: a new module at a context's root
that the contract forgot could import entrypoints, or be imported by adapters, unnoticed."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"adapters", "domain", "entrypoints", "migrations"}


def _contracts() -> list[dict]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]["contracts"]


def _layered_modules(context: str) -> set[str]:
    for contract in _contracts():
        layers = contract.get("layers", [])
        if contract["type"] == "layers" and f"services.{context}.domain" in layers:
            return {m.strip() for layer in layers for m in layer.split(":")}
    raise AssertionError(f"no layers contract for services.{context}")


def test_every_context_module_is_in_its_layers_contract():
    contexts = [p for p in (ROOT / "services").iterdir() if (p / "domain").is_dir()]
    assert len(contexts) >= 6
    for context in contexts:
        layered = _layered_modules(context.name)
        for folder in FOLDERS - {"migrations"}:
            assert f"services.{context.name}.{folder}" in layered
        for module in context.glob("*.py"):
            if module.stem != "__init__":
                assert f"services.{context.name}.{module.stem}" in layered, (
                    f"{module.relative_to(ROOT)} is a use case outside the layers contract in pyproject.toml")
        for sub in context.iterdir():
            if sub.is_dir() and (sub / "__init__.py").exists():
                assert sub.name in FOLDERS, f"{sub.relative_to(ROOT)}: a context holds domain/, adapters/, entrypoints/"
