"""The tree's layering, checked: dependencies point one way.

models and ingest are pure (no Kafka client, no runtime, no tools), so they are tested directly
and run the same in a worker, a replay and in process; the runtime never reaches up into the tools
or the agents; agents use models, ingest and runtime, never tools. The check reads each module's
imports (``ast``), including imports inside functions, so a lazy import cannot slip past it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KAFKA_CLIENTS = ("faust", "mode", "aiokafka", "kafka", "confluent_kafka")

# package -> import prefixes it must never use
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "pipeline/models": (
        *KAFKA_CLIENTS,
        "pipeline.runtime",
        "pipeline.tools",
        "pipeline.ingest",
        "pipeline.cli",
        "agents",
    ),
    "pipeline/ingest": (
        *KAFKA_CLIENTS,
        "pipeline.runtime",
        "pipeline.tools",
        "pipeline.models",
        "pipeline.cli",
        "agents",
    ),
    "pipeline/runtime": ("pipeline.tools", "pipeline.cli", "agents"),
    "agents": ("pipeline.tools", "pipeline.cli"),
    "schemas": (*KAFKA_CLIENTS, "pipeline", "agents"),
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            # `from pipeline import runtime` imports the subpackage too
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in sorted(imported_modules(path)):
            for prefix in FORBIDDEN[package]:
                if name == prefix or name.startswith(prefix + "."):
                    found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package: str) -> None:
    assert (ROOT / package).is_dir()
    assert violations(package) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import faust.streams\n    from pipeline import runtime\n")
    names = imported_modules(module)
    assert "faust.streams" in names and "pipeline.runtime" in names
