"""Certificates, the ACME account, challenge answers and leases in PostgreSQL."""
