"""Every ```python block of README.md runs, in order, in one namespace.

The preamble defines what the README's blocks take as given, on tiny real data:

- `model`, `dense_model`, `dense`: one small built CNN (Conv8-Dense32-Dense10) trained for an
  epoch on 7x7 real MNIST digits;
- `x`, `y`: 256 training digits; `x_test`, `y_test`: 64 test digits;
- `loss`: `SparseCategoricalCrossentropy(from_logits=True)`.

A block that loads the embedded digits itself (`examples.datasets.load_embedded_mnist`)
gets the same tiny sizes: the first 256 training and 64 test digits of what it asked for.

The blocks run in a temporary folder (they write files such as `pruned.keras`).
"""

import re
from pathlib import Path

import keras
import pytest

import examples.datasets
from tests.helpers import compile_classifier, small_cnn

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_python_blocks_and_opens_with_the_two_commands():
    text = README.read_text()
    assert len(python_blocks(text)) >= 8
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands == ["make demo", "make test"]
    assert text.index("```bash") < text.index("##")  # before any section


def test_every_python_block_runs(digits, tmp_path, monkeypatch):
    (x, y), (x_test, y_test) = digits
    model = compile_classifier(small_cnn())
    model.fit(x[:256], y[:256], epochs=1, verbose=0)
    namespace = {
        "model": model, "dense_model": model, "dense": model,
        "x": x[:256], "y": y[:256], "x_test": x_test[:64], "y_test": y_test[:64],
        "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    }
    monkeypatch.chdir(tmp_path)
    load = examples.datasets.load_embedded_mnist

    def tiny(*args, **kwargs):
        (x, y), (x_test, y_test) = load(*args, **kwargs)
        return (x[:256], y[:256]), (x_test[:64], y_test[:64])

    monkeypatch.setattr(examples.datasets, "load_embedded_mnist", tiny)
    for number, block in enumerate(python_blocks(README.read_text()), start=1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as error:  # name the block that broke
            pytest.fail(f"README python block {number} raised {error!r}:\n{block}")


def test_every_image_the_readme_shows_is_a_png_in_the_repository():
    paths = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README.read_text())
    assert paths
    for path in paths:
        assert (README.parent / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
