"""``python -m zego_token.server``: the same as ``zego-token serve``."""

from __future__ import annotations

import argparse
import sys

from ..cli.serve import extras_hint, missing_server_modules


def main(argv: list[str] | None = None) -> int:
    # Checked before importing the server, as `zego-token serve` does: one line, exit 2.
    if missing_server_modules():
        print(extras_hint(), file=sys.stderr)
        return 2
    from .cli import add_serve_arguments, run_serve

    parser = argparse.ArgumentParser(
        prog="python -m zego_token.server",
        description="Serve ZEGO tokens over HTTP: GET /api/token?userID=...&expired_ts=3600",
    )
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
