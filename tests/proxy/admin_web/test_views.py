"""The pages' HTML without a server: everything given is escaped, lights say the
domain service's reasons, the message view counts days and bots' reasons."""

from __future__ import annotations

import re
from dataclasses import replace

from proxy.admin.host_metrics import host_families
from proxy.admin.web.chart import DayCounts, day_chart
from proxy.admin.web.domain_views import domain_page, domains_page, host_lights
from proxy.admin.web.markup import Html, esc, join, page, render
from proxy.admin.web.message_views import day_counts, message_page
from proxy.domains.descriptions import (
    CertificateSummary,
    CnameRecord,
    DomainDescription,
    HostDescription,
    TxtRecord,
    unchecked_status,
)
from proxy.domains.status import (
    DnsAnswer,
    HostChecks,
    HstsFinding,
    Probe,
    check_colour,
    host_status,
)
from proxy.domains.store import TrackingHost
from redirector.recording.event_reader import merge_stats
from redirector.recording.event_store import LinkStats, StoredStats
from redirector.recording.events import Event

EVIL = '<script>alert("x")</script>'
DAY = 86_400.0
T0 = 1_790_000_000.0  # 2026-09-21 (UTC)


def test_render_escapes_all_but_markup() -> None:
    assert (
        render("<p>$a</p>", a=EVIL) == "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>"
    )
    assert render('<a title="$t">', t="\" onmouseover='x'") == (
        '<a title="&quot; onmouseover=&#x27;x&#x27;">'
    )
    assert render("$a", a=Html("<b>kept</b>")) == "<b>kept</b>"
    assert join([esc("<"), Html("<br>")], "") == "&lt;<br>"
    assert "<script>" not in page(EVIL, esc(EVIL), csrf=EVIL, notice=EVIL)


def checked_host(
    host: str, hsts: tuple[HstsFinding, ...] = (), https: Probe | None = None
) -> HostDescription:
    checks = HostChecks(
        host, "t.trackway.example", True, DnsAnswer(("t.trackway.example",)),
        Probe(True), hsts, https, T0,
    )  # fmt: skip
    return HostDescription(
        status=host_status(checks, "https://t.trackway.example"),
        sending_domain="example.com",
        region="us",
        cname_record=CnameRecord(host, "t.trackway.example"),
        checked_at=T0,
        certificate=None,
    )


def test_lights_carry_the_services_reasons() -> None:
    hsts = (HstsFinding("example.com", "preload list", "includeSubDomains"),)
    lights = {li.check: li for li in host_lights(checked_host("links.example.com", hsts))}
    assert (lights["CNAME"].colour, lights["CNAME"].reason) == ("green", None)
    assert lights["HTTP"].colour == "red"
    assert lights["HTTP"].reason == (
        "HSTS on example.com (preload list: includeSubDomains): http links would break"
    )
    assert (lights["HTTPS"].colour, lights["HTTPS"].state) == ("grey", "off")
    assert lights["HTTPS"].reason == "nothing serves HTTPS for this host yet"
    green = host_lights(checked_host("links.example.com", https=Probe(True)))
    assert [li.colour for li in green] == ["green", "green", "green"]


def test_a_host_never_checked_is_grey() -> None:
    host = HostDescription(
        status=unchecked_status("links.example.com", "https://t.trackway.example"),
        sending_domain="example.com", region="us",
        cname_record=CnameRecord("links.example.com", "t.trackway.example"),
        checked_at=None, certificate=None,
    )  # fmt: skip
    assert {li.colour for li in host_lights(host)} == {"grey"}
    assert {li.reason for li in host_lights(host)} == {
        "not checked yet: run `trackway domains verify`"
    }


def test_domain_screens_escape_names_records_and_errors() -> None:
    host = checked_host("links.example.com")
    bad_cert = CertificateSummary(True, T0 + 90 * DAY, EVIL, T0 + 60 * DAY, EVIL, None, False)
    host = HostDescription(
        host.status, host.sending_domain, EVIL, CnameRecord(EVIL, EVIL), T0, bad_cert,
        "proxy", EVIL,
    )  # fmt: skip
    domain = DomainDescription(
        EVIL, "unverified", TxtRecord(EVIL, EVIL), EVIL, (host,), host.status
    )
    for html in [
        domain_page(domain, EVIL, EVIL, csrf=EVIL),
        domains_page([domain], {EVIL: EVIL}, csrf=EVIL),
    ]:
        assert "<script" not in html
        assert "&lt;script&gt;" in html
    html = domain_page(domain, "https://t.trackway.example", None, csrf="c")
    assert "Issuer</th><td>&lt;script&gt;" in html
    assert "Next renewal</th><td>2026-11-20 " in html
    assert "Back to redirect mode" in html  # a proxied host switches back


def test_every_form_of_the_domain_page_carries_the_csrf_token() -> None:
    host = checked_host("links.example.com")
    domain = DomainDescription(
        "example.com", "verified", TxtRecord("_trackway.example.com", "v"), None, (host,),
        host.status,
    )  # fmt: skip
    html = domain_page(domain, "https://t.trackway.example", None, csrf="the-csrf")
    forms = re.findall(r"<form method=\"post\".*?</form>", html, re.S)
    # verify, proxy mode, save and remove app links, remove the host, remove the domain
    assert len(forms) == 6
    assert all('name="csrf" value="the-csrf"' in form for form in forms)
    assert domains_page([domain], {"us": "t"}, csrf="the-csrf").count('value="the-csrf"') == 1


def event(i: int, kind: str, at: float, bot: bool = False, reasons: tuple[str, ...] = ()) -> Event:
    return Event(
        f"{i:020d}", at, kind, "k", "m1", f"r{i}", 0, "https://example.com/", "ua", None, "ck",
        bot, list(reasons), EVIL,
    )  # fmt: skip


def test_message_view_counts_days_and_bot_reasons_and_escapes() -> None:
    """The spool's events (nothing stored here) counted into days and reasons by the same
    merge that adds them to the store's counts."""
    events = [
        event(1, "click", T0),
        event(2, "click", T0 + 60, bot=True, reasons=("burst",)),
        event(3, "click", T0 + DAY, bot=True, reasons=("burst", "too_fast")),
        event(4, "open", T0 + DAY),
        event(5, "open", T0 + DAY, bot=True, reasons=("proxy",)),
    ]
    nothing = StoredStats([], {"human_opens": 0, "bot_opens": 0, "unique_openers": 0},
                          frozenset(), frozenset(), frozenset(), {}, {})  # fmt: skip
    stats = merge_stats("m1", nothing, events)
    assert day_counts(stats) == [
        DayCounts("2026-09-21", human_clicks=1, bot_clicks=1),
        DayCounts("2026-09-22", bot_clicks=1, human_opens=1, bot_opens=1),
    ]
    assert stats.bot_reasons == {0: {"burst": 2, "too_fast": 1}}
    stats = replace(stats, links=[LinkStats(0, EVIL, EVIL, 1, 2, 1)])
    html = message_page(stats)
    assert "<script" not in html
    assert "burst: 2, too_fast: 1" in html
    assert html.count("<rect") == 8  # two days, two bars each, humans and bots


def test_the_chart_scales_to_the_busiest_day() -> None:
    svg = day_chart([DayCounts("2026-09-21", 30, 10, 5, 0), DayCounts("2026-09-22", 1, 0, 0, 0)])
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"', svg)[1:]]
    assert max(heights) == 120.0  # 30 of 40 on a 160-unit scale
    assert "bot opens" in svg  # the legend
    assert "No clicks" in day_chart([])


def test_lights_and_metrics_read_one_colour_table() -> None:
    """A light is green exactly when /metrics says 1 for that check (one table, in
    proxy/domains/status.py); grey only where the table says so."""
    for https in (None, Probe(True), Probe(False, "refused")):
        for dns in (DnsAnswer(("t.trackway.example",)), DnsAnswer(()), DnsAnswer((), "SERVFAIL")):
            checks = HostChecks(
                "links.example.com", "t.trackway.example", True, dns, Probe(https is None),
                (), https, T0,
            )  # fmt: skip
            status = host_status(checks, "https://t.trackway.example")
            host = replace(checked_host("links.example.com"), status=status)
            lights = {li.check.lower(): li.colour for li in host_lights(host)}
            stored = TrackingHost("links.example.com", "example.com", "us", T0, checks=checks,
                                  status=status, checked_at=T0)  # fmt: skip
            found = {
                (s.labels["check"]): s.value
                for family in host_families([stored])
                if family.name == "trackway_domain_check_ok"
                for s in family.samples
            }
            for check in ("cname", "http", "https"):
                state = str(getattr(status, check))
                assert lights[check] == check_colour(check, state)
                assert (found[check] == 1.0) is (lights[check] == "green"), (check, state)


def test_a_host_without_certificate_says_the_service_s_obstacles() -> None:
    checks = HostChecks(
        "links.example.com", "t.trackway.example", True, DnsAnswer(()), Probe(False, "refused"),
        (), None, T0,
    )  # fmt: skip
    status = host_status(checks, "https://t")
    stored = TrackingHost("links.example.com", "example.com", "us", T0, checks=checks,
                          status=status, checked_at=T0)  # fmt: skip
    host = replace(
        checked_host("links.example.com"),
        status=status,
        certificate_obstacles=tuple(stored.certificate_obstacles()),
    )
    domain = DomainDescription(
        "example.com", "verified", TxtRecord("_trackway.example.com", "v"), None, (host,),
        host.status,
    )  # fmt: skip
    html = domain_page(domain, "https://t", None, csrf="c")
    assert "No certificate yet: no CNAME record; point links.example.com at " in html
    assert "HTTP check: refused" in html
    assert "ordered once CNAME and HTTP" not in html  # the page's own words, gone
    assert "certificate_obstacles" not in host.as_dict()  # the JSON is as it was


def test_a_proxied_domain_s_links_are_said_in_the_service_s_words() -> None:
    host = checked_host("links.example.com")
    domain = DomainDescription(
        "example.com", "verified", TxtRecord("_trackway.example.com", "v"), None, (host,),
        host.status,
    )  # fmt: skip
    said = "example.com's tracking host links.example.com is in proxy mode: its links are …"
    html = domain_page(domain, None, said, csrf="c")
    assert f'<span class="reason">{esc(said)}</span>' in html
    assert 'id="link-base"' not in html
    assert "email platform's own links" not in html
