"""The server: wires `config`, `redirector` and `certs` into the processes users run.

- `proxy.serve`: `trackway serve`: supervisor, workers, writer process, public app,
  certificate maintenance.
- `proxy.domains`: custom tracking domains: service, store, checks, status, HSTS.
- `proxy.admin`: the admin API (token-protected) and its query parsing.
- `proxy.cli`: the `trackway` command, one module per command group.
- `proxy.app_links`: a tracking host's app-link files (AASA, assetlinks.json):
  validated, stored, shown.
- `proxy.senders`: `rewriter_for`, the sender's entry point with the right link base.
- `proxy.data_folder`: the secrets and stores every part opens from the data folder.

The reverse proxy in front of email platforms' tracking hosts will live here too.
"""

from proxy.domains import LinkBase
from proxy.senders import NoTrackingBase, link_base, rewriter_for

__all__ = ["LinkBase", "NoTrackingBase", "link_base", "rewriter_for"]
