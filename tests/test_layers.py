"""The package's layering, read from the import statements (transitively through lit_rlvr's own modules).

- the math (objectives, advantage estimators, loss aggregation, KL, log-probs, the sampler mismatch)
  imports neither Lightning nor the system that wires it (module, callbacks, CLI, strategy);
- verifiers and the reward worker pool import neither torch nor Lightning (workers must start fast);
- data (the data module, tasks) imports neither the module nor the callbacks.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "lit_rlvr"
SYSTEM = ("lightning", "lit_rlvr.module", "lit_rlvr.callbacks", "lit_rlvr.cli", "lit_rlvr.strategy")

LAYERS = {
    "math": (
        ["objectives", "advantages.py", "aggregation.py", "kl.py", "logprobs.py", "mismatch.py"],
        SYSTEM,
    ),
    "verifiers": (["verifiers", "workers.py"], ("torch", "lightning", "transformers", "datasets")),
    "data": (["data.py", "tasks"], ("lit_rlvr.module", "lit_rlvr.callbacks", "lit_rlvr.cli")),
    "environments": (["environments", "episodes.py"], SYSTEM),
    "tools": (  # tool workers start without torch
        [
            "environments/__init__.py",
            "environments/calculator.py",
            "environments/sandbox.py",
            "environments/tool_calls.py",
        ],
        ("torch", "lightning", "transformers", "datasets"),
    ),  # fmt: skip
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_path(name: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def direct_imports(path: Path) -> set[str]:
    """Every module an import statement in `path` names, with the packages Python runs on the way."""
    names: set[str] = set()
    package = module_name(path).rpartition(".")[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + [base]
                ).strip(".")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    parents = {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 1)}
    return names | parents


def reachable_imports(path: Path) -> dict[str, str]:
    """Every module `path` imports, directly or through lit_rlvr modules, mapped to one file importing it."""
    seen: dict[str, str] = {}
    stack = [path]
    visited: set[Path] = set()
    while stack:
        current = stack.pop()
        if current in visited:
            continue
        visited.add(current)
        for name in direct_imports(current):
            seen.setdefault(name, str(current.relative_to(PACKAGE.parent)))
            if name.startswith("lit_rlvr") and (found := module_path(name)) is not None:
                stack.append(found)
    return seen


def files_of(entries: list[str]) -> list[Path]:
    files = []
    for entry in entries:
        target = PACKAGE / entry
        files.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return files


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_nothing_above_it(layer):
    entries, banned = LAYERS[layer]
    files = files_of(entries)
    assert files, f"layer {layer} lists no files"
    for path in files:
        for name, importer in reachable_imports(path).items():
            for prefix in banned:
                assert not (name == prefix or name.startswith(prefix + ".")), (
                    f"{path.relative_to(PACKAGE.parent)} reaches {name} (imported by {importer}), "
                    f"which the {layer} layer must not import"
                )


def test_the_checker_sees_a_violation(tmp_path):
    # The module itself imports Lightning: a layer holding it must fail.
    assert "lightning" in reachable_imports(PACKAGE / "module.py")
    assert "torch" in reachable_imports(PACKAGE / "objectives" / "grpo.py")
