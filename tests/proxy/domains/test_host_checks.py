"""A tracking host's status from real checks on loopback: the CNAME in the test DNS, our
listener on the HTTP port, an HTTPS server with a test CA, HSTS headers and the preload
list; and the link base each status gives."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.senders import rewriter_for
from redirector import SendContext
from tests.support.challtestsrv import free_port
from tests.support.domain_world import DEFAULT_BASE, US, add_and_verify


async def test_cname_ok_http_green_gives_http_links(world_factory: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert (status["ownership"], status["cname"], status["http"], status["https"]) == (
        "verified",
        "ok",
        "green",
        "off",
    )
    assert status["link_base"] == "http://links.example.com"
    with world.service() as service:
        assert service.link_base("example.com").url == "http://links.example.com"
    # The Python API for senders picks the same base.
    rewriter = rewriter_for(world.settings, domain="example.com")
    result = rewriter.rewrite_html(
        '<a href="https://shop.example.com/">', SendContext("m", "r", 0)
    )
    assert result.body.startswith('<a href="http://links.example.com/c/')
    explicit = rewriter_for(world.settings, domain="example.com", base_url="https://x.example")
    assert explicit.signer.base_url == "https://x.example"


async def test_https_green_gives_https_links(world_factory: Any) -> None:
    world = await world_factory(https="green")
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert (status["cname"], status["http"], status["https"]) == ("ok", "green", "green")
    assert status["link_base"] == "https://links.example.com"


async def test_https_failing_with_a_wrong_certificate(world_factory: Any) -> None:
    world = await world_factory(https="wrong-name")
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert status["https"] == "failing"
    assert "certificate" in status["reasons"]["https"].lower()
    assert (
        status["link_base"] == "http://links.example.com"
    )  # never a link to a broken certificate


async def test_hsts_on_a_parent_domain_makes_http_red(world_factory: Any) -> None:
    world = await world_factory(https="wrong-name")
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert status["http"] == "green"  # the wrong certificate: no browser would take its header
    world = await world_factory(https="green")
    world.sts["example.com"] = "max-age=31536000; includeSubDomains"
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert status["http"] == "red"
    assert "example.com" in status["reasons"]["http"]
    assert "includeSubDomains" in status["reasons"]["http"]
    assert status["link_base"] == "https://links.example.com"  # https is green here


async def test_hsts_without_working_https_falls_back_to_the_default_host(
    world_factory: Any,
) -> None:
    world = await world_factory(https="green")
    world.sts["example.com"] = "max-age=600; includeSubDomains"
    world.https_answers_checks = False  # a certificate, but not this server behind it
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert (status["http"], status["https"]) == ("red", "failing")
    assert status["link_base"] == DEFAULT_BASE


async def test_parent_policy_without_include_subdomains_does_not_apply(world_factory: Any) -> None:
    world = await world_factory(https="wrong-name")
    world.sts["example.com"] = "max-age=600"
    world.dns.set_cname("links.example.com", US)
    assert (await add_and_verify(world))["http"] == "green"


async def test_preloaded_tld_is_caught_offline(world_factory: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.dev", US)
    status = await add_and_verify(world, "example.dev", "links.example.dev")
    assert status["http"] == "red"
    assert "preload" in status["reasons"]["http"]
    assert status["link_base"] == DEFAULT_BASE


@pytest.mark.parametrize(
    ("dns_setup", "cname"),
    [("none", "missing"), ("wrong", "wrong"), ("servfail", "error")],
)
async def test_cname_problems_fall_back(world_factory: Any, dns_setup: str, cname: str) -> None:
    world = await world_factory()
    if dns_setup == "wrong":
        world.dns.set_cname("links.example.com", "elsewhere.example.net")
    elif dns_setup == "servfail":
        world.dns.set_servfail("links.example.com")
    status = await add_and_verify(world)
    assert status["cname"] == cname
    assert status["link_base"] == DEFAULT_BASE
    if cname == "wrong":
        assert status["cname_target"] == "elsewhere.example.net"
    if cname == "error":
        assert "SERVFAIL" in status["reasons"]["cname"]


async def test_http_unreachable(world_factory: Any) -> None:
    world = await world_factory(http_port=free_port())  # nothing listens there
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert status["http"] == "unreachable"
    assert status["link_base"] == DEFAULT_BASE
