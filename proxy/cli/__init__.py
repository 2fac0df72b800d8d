"""The `trackway` command line: one module per command group, one for what it prints.

May import everything: the command line wires config, redirector, certs and proxy.
"""

from proxy.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
