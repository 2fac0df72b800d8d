"""Fixtures of the admin page's tests: the test DNS (pebble-challtestsrv)."""

from tests.support.challtestsrv import dns as dns

__all__ = ["dns"]
