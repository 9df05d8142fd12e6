"""The layering each package's `__init__` docstring states, and the doors that stay shut.

- Every module imports only what its package's "May import:" rule allows (the standard
  library always; its own package always; the rule's names at module level, and the
  names after "inside functions also" only inside functions).
- `keras.src` and private attributes of Keras objects are read in `_compat` only.
- Masks are written in `kerasprune/core/mask_update.py` only.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["kerasprune/core", "kerasprune/callbacks", "kerasprune/retrain",
            "kerasprune/structured", "kerasprune/oneshot", "kerasprune/tfmot",
            "kerasprune/quantization", "kerasprune/cli", "tflite_export"]
COMPAT = {"kerasprune/_compat.py", "tflite_export/_compat.py"}


def rule(package: str) -> tuple[set[str], set[str]]:
    """(names allowed anywhere, names allowed inside functions only) of a package."""
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
    text = " ".join(doc.split("May import:")[1].split("\n\n")[0].split())
    anywhere, _, inside = text.partition("inside functions also")
    return _names(anywhere), _names(inside)


def _names(text: str) -> set[str]:
    text = re.sub(r"\([^)]*\)", "", text)  # explanations in parentheses
    found = {quoted or word for quoted, word in re.findall(r"`([\w.*]+)`|\b([a-z_]+)\b", text)}
    return found - {"and", "also"}


def imports(path: Path):
    """`(module name, inside a function)` of every import in a file."""
    tree = ast.parse(path.read_text())
    functions = {id(n) for f in ast.walk(tree)
                 if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for n in ast.walk(f)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            yield name, id(node) in functions


def allowed(name: str, rule_names: set[str], own: str) -> bool:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top == "__future__" or name.startswith(own):
        return True
    for entry in rule_names:
        if entry.endswith(".*") and name.startswith(entry[:-1]):
            return True  # any module below: `kerasprune.*`
        if name == entry or (entry != "kerasprune" and name.startswith(entry + ".")):
            return True
    return False


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_each_module_imports_what_its_package_may_import(package):
    anywhere, inside = rule(package)
    own = package.replace("/", ".")
    wrong = [f"{path.relative_to(ROOT)}: {name}"
             for path in files(package) for name, in_function in imports(path)
             if not allowed(name, anywhere | (inside if in_function else set()), own)]
    assert wrong == [], f"imports outside the rule {sorted(anywhere)} / {sorted(inside)}"


def test_the_rules_are_read_as_written():
    assert rule("kerasprune/retrain") == ({"keras", "numpy", "kerasprune.core.validation",
                                           "kerasprune.core.caller"}, set())
    anywhere, inside = rule("kerasprune/core")
    assert anywhere == {"keras", "numpy", "kerasprune._compat"}
    assert inside == {"tensorflow", "jax", "kerasprune.plot"}


def _python_files() -> list[Path]:
    return sorted(p for folder in ("kerasprune", "tflite_export") for p in (ROOT / folder).rglob(
        "*.py"))


def _private_names_of_ours() -> set[str]:
    """Every `_name` kerasprune defines itself (functions, classes, attributes, arguments)."""
    names = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return {n for n in names if n.startswith("_")}


def test_keras_internals_are_read_through_compat_only():
    ours = _private_names_of_ours()
    found = []
    for path in _python_files():
        relative = str(path.relative_to(ROOT))
        if relative in COMPAT:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                if module and module.startswith("keras.src"):
                    found.append(f"{relative}:{node.lineno} imports {module}")
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and node.attr not in ours):
                found.append(f"{relative}:{node.lineno} reads .{node.attr}")
    assert found == []


MASK_WRITE = re.compile(r"assign_masks|\.masks\[[^\]]*\]\s*(=|\.assign)|\bmask\w*\.assign\(")


def test_masks_are_written_in_mask_update_only():
    writers = {str(path.relative_to(ROOT)) for path in _python_files()
               if MASK_WRITE.search(path.read_text())}
    assert writers == {"kerasprune/core/mask_update.py"}


def test_the_mask_write_pattern_finds_each_way_of_writing_a_mask():
    for line in ("w.assign_masks(m)", "w.masks[0].assign(v)", "w.masks[i] = v",
                 "mask.assign(value)", "masks_var.assign(x)"):
        assert MASK_WRITE.search(line), line
    assert not MASK_WRITE.search("metric.value.assign(0.5)")
