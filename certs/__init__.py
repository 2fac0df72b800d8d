"""HTTPS built in: ACME issuance (RFC 8555), certificate storage, renewal, SNI, TLS-ALPN.

`manager` obtains and renews (check, lease, re-check, issue, store) with `acme_issuer`
running the synchronous `acme` client in a thread pool of its own; `renewal` decides
when (pure); `store` keeps `certs/<host>/` in the data folder; `sni` picks a loaded
certificate in the handshake (memory only); `challenges` publishes HTTP-01 and
TLS-ALPN-01 answers; `tls_alpn` reads a ClientHello. Imports only `config` of ours.

Shared state has an interface each (`lease.Leases`, `store.SharedCertificates`,
`account.AccountStore`, `challenges.Challenges`) with its data-folder backend here;
`backends.CertBackends` bundles them. With `[store] url`, `proxy.store.certs` hands
in the PostgreSQL ones, and this server's `certs/<host>/` files become its mirror.
"""

from certs.backends import CertBackends
from certs.challenges import ChallengeStore
from certs.manager import CertManager
from certs.sni import SniCertificates
from certs.store import CertState, CertStore

__all__ = [
    "CertBackends",
    "CertManager",
    "CertState",
    "CertStore",
    "ChallengeStore",
    "SniCertificates",
]
