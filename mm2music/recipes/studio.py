"""The studio: a local web page to score a film, see the plan on a timeline, play the result and edit it.

    run_pipeline.py studio [--port 8765] [--out DIR] [--host 127.0.0.1]
    run_pipeline.py studio --config debug --checkpoint DIR      # how new scores are made, as for the CLI

Serves http://127.0.0.1:8765/ (only this machine: pass --host 0.0.0.0 to open it to the network). Projects are
the folders of --out: a reload, or a restart, loses nothing. Exit 0 on Ctrl-C, 1 with ``error: ...`` on a user
error.
"""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys
from pathlib import Path

from mm2music.errors import Mm2MusicError
from mm2music.recipes import offline_environment, user_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run_pipeline.py studio", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--port", type=int, default=8765, help="TCP port (0 = any free one)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on; anything but 127.0.0.1/localhost opens the "
                   "studio (and the files under --out) to other machines")
    p.add_argument("--out", type=Path, default=Path("out"), help="projects folder (as the CLI's --out)")
    p.add_argument("--config", metavar="NAME|PATH", help="config for new scores: a name in configs/ (e.g. debug) or a YAML path")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], help="override a config key for new scores")
    p.add_argument("--checkpoint", metavar="DIR", help="music decoder checkpoint for new scores (default: the shipped one)")
    p.add_argument("--max-upload-mb", type=float, default=2048, help="largest upload accepted (MB)")
    p.add_argument("--debug", action="store_true", help="tracebacks and debug logs")
    return p.parse_args(argv)


def overrides(args: argparse.Namespace) -> list[str]:
    """The settings of new scores, checked here so that a bad one fails before serving."""
    from mm2music.config import load_config

    out = list(args.set) + ([f"music.checkpoint={args.checkpoint}"] if args.checkpoint else [])
    load_config(args.config, out)
    if not 0 <= args.port <= 65535:
        raise Mm2MusicError(f"--port {args.port} is not a TCP port; give 1-65535 (or 0 for any free one)")
    if args.max_upload_mb <= 0:
        raise Mm2MusicError(f"--max-upload-mb {args.max_upload_mb:g} must be above 0")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s: %(message)s")
    offline_environment()
    try:
        import uvicorn

        from mm2music.studio.app import Studio, create_app

        settings = overrides(args)
        sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((args.host, args.port))
        except OSError as exc:
            sock.close()
            why = "is in use; pass --port with another one (or 0)" if exc.errno == errno.EADDRINUSE else f"cannot be opened ({exc.strerror})"
            raise Mm2MusicError(f"port {args.port} on {args.host} {why}") from None
        try:
            studio = Studio(args.out, args.config, tuple(settings), int(args.max_upload_mb * 1e6),
                            local_only=args.host in ("127.0.0.1", "localhost", "::1"))
        except OSError as exc:
            sock.close()
            raise Mm2MusicError(f"cannot use --out {args.out} ({exc.strerror}); pass --out with a writable folder") from None
        app = create_app(studio)
        sock.listen(128)  # connections wait in the backlog until uvicorn has started: the URL printed works at once
        port = sock.getsockname()[1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"mm2music studio: serving http://{host}:{port}/ (projects in {studio.out}); Ctrl-C stops", flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: listening on {args.host}: other machines can reach the studio and the files under {studio.out}",
                  file=sys.stderr, flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="debug" if args.debug else "warning", access_log=args.debug))
        server.run(sockets=[sock])
    except Mm2MusicError as exc:
        return user_error(exc, args.debug)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
