"""The package's layers, read from the source: engine <- language-model core <- applications <- faces."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rnnkit"

# what each layer must never import (a module counts with everything under it)
FORBIDDEN = {
    "rnnkit.text": ("rnnkit.music", "rnnkit.cli", "rnnkit.serve"),
    "rnnkit.music": ("rnnkit.text", "rnnkit.cli", "rnnkit.serve"),
    "rnnkit.lm": ("rnnkit.text", "rnnkit.music", "rnnkit.cli", "rnnkit.serve"),
    "rnnkit.nn": ("rnnkit.lm", "rnnkit.text", "rnnkit.music", "rnnkit.cli", "rnnkit.serve"),
    "rnnkit.optim": ("rnnkit.lm", "rnnkit.text", "rnnkit.music", "rnnkit.cli", "rnnkit.serve"),
    "rnnkit.kernels": ("rnnkit.lm", "rnnkit.text", "rnnkit.music", "rnnkit.cli", "rnnkit.serve"),
    "rnnkit.engines": ("rnnkit.lm", "rnnkit.text", "rnnkit.music", "rnnkit.cli", "rnnkit.serve"),  # by duck type
    "rnnkit.serve": ("rnnkit.cli", "rnnkit.engines"),  # a face beside the command line, over the applications
    "rnnkit.flags": ("rnnkit",),  # help text only: importable from anywhere without a circle
}


def module_name(path: Path, root: Path = SRC) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = SRC) -> set[str]:
    """Every module an import statement in `path` names, relative imports resolved, `from a import b` as a.b too."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_source_tree_has_every_layer():
    """The layers the rules below name exist, so the rules cannot pass by checking nothing."""
    names = {module_name(p) for p in SRC.rglob("*.py")}
    for layer in FORBIDDEN:
        assert any(inside(n, layer) for n in names), layer


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_a_layer_above_or_beside_it(path):
    """Applications never import each other or the CLI; the core and the engine import no application."""
    name = module_name(path)
    for layer, banned in FORBIDDEN.items():
        if not inside(name, layer):
            continue
        for module in imported_modules(path):
            for b in banned:
                assert not inside(module, b), f"{name} imports {module}, which {layer} must not use"


def test_the_import_reader_sees_every_form_of_import(tmp_path):
    """`import a.b`, `from a import b` and relative imports all count (the check above would miss them otherwise)."""
    pkg = tmp_path / "rnnkit" / "music"
    pkg.mkdir(parents=True)
    source = pkg / "x.py"
    source.write_text("import rnnkit.cli\nfrom rnnkit import text\nfrom ..text.data import pad\nfrom . import tokens\n")
    found = imported_modules(source, root=tmp_path / "rnnkit")
    assert {"rnnkit.cli", "rnnkit.text", "rnnkit.text.data", "rnnkit.music.tokens"} <= found
