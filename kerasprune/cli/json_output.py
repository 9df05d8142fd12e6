"""`--json`: a command's result dataclass as JSON on stdout."""

from __future__ import annotations

import dataclasses
import json


def add_json_option(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def print_result(result, as_json: bool) -> None:
    """Print `result` as its table, or as JSON (a dataclass, field by field)."""
    if as_json:
        print(json.dumps(dataclasses.asdict(result), indent=2, default=str))
    else:
        print(result)
