"""Certificates, the ACME account, challenge answers and leases in PostgreSQL (issue 14),
for several servers on one database.

`certs/` defines the interfaces (`Leases`, `SharedCertificates`, `AccountStore`,
`Challenges`) and their data-folder backends; here are the PostgreSQL ones, on one
lazily opened connection (`database`). `backends` picks by the settings; `mirror` keeps
a server's `certs/<host>/` files in step with the store, stepped by `serve`'s one
mirroring task (`proxy.store.sync`; the readers, SNI first, read those files alone);
`copy` is `store copy`'s certificate step.
"""

from proxy.store.certs.backends import (
    open_cert_backends,
    open_cert_manager,
    open_challenges,
    open_leases,
)
from proxy.store.certs.copy import copy_certificates
from proxy.store.certs.mirror import CertMirror

__all__ = [
    "CertMirror",
    "copy_certificates",
    "open_cert_backends",
    "open_cert_manager",
    "open_challenges",
    "open_leases",
]
