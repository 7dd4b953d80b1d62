"""The `gdfast` command line."""
from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(prog="gdfast", description="Linear models by gradient descent and Newton's method.")
    p.add_argument("--version", action="version", version=f"gdfast {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="fit logistic regression on the packaged breast-cancer data at "
                                "three learning rates and by Newton's method")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import main as demo
        return demo()
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
