"""Options every command shares (`--json`, `-v`, `-q`), and argument types checked by argparse.

A value argparse refuses exits at once (status 2) with the option, the value received and
what is allowed, before anything is loaded.
"""

from __future__ import annotations

import argparse


def add_common_options(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    """`--json`, `-v` and `-q`; accepted before the command name and after it."""
    default = 0 if top_level else argparse.SUPPRESS
    parser.add_argument("-v", "--verbose", action="count", default=default,
                        help="more output: TensorFlow's own log lines and warnings in full")
    parser.add_argument("-q", "--quiet", action="count", default=default,
                        help="less output: no progress bars")
    if not top_level:
        parser.add_argument("--json", action="store_true",
                            help="print the result as one JSON document on stdout (progress "
                            "and warnings go to stderr)")


def count(name: str, minimum: int):
    """An argparse type: an int >= `minimum`, refused in Keras' words otherwise.

    Example:

    >>> count("runs", 1)("3")
    3
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(
                f"Expected {name} to be an int >= {minimum}. Received: {name}={text!r}")
        return value

    parse.__name__ = f"an int >= {minimum}"
    return parse
