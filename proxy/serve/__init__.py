"""`trackway serve`: the supervisor and its processes.

`supervisor` binds, starts and restarts the processes and serves the admin listener;
`worker` runs the public listeners (`public_app`, and `tls_listener` for TLS-ALPN-01);
`writer_process` loads the spool into the database; `cert_maintenance` orders and
renews certificates of eligible hosts; `processes` is what every process does alike.
May import everything: this is where the parts are wired.
"""

from proxy.serve.public_app import PublicService
from proxy.serve.supervisor import serve

__all__ = ["PublicService", "serve"]
