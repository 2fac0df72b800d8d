"""The domain screens as HTML: the list with the Add form, and a sending domain with its
DNS records, ownership, each tracking host's lights, mode, certificate and app links.
Pure.

The words are the domain service's (`HostStatus.reasons`, `LinkBase.reason`, the
ownership error): the CLI says the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote

from proxy.admin.web.markup import Html, join, render, utc, when
from proxy.domains.descriptions import CertificateSummary, DomainDescription, HostDescription
from proxy.domains.status import GREEN, GREY, UNCHECKED, check_colour
from proxy.domains.store import NO_APP_LINKS, AppLinks
from proxy.upstream.route import HOST_HEADER_POLICIES

__all__ = ["Light", "domain_page", "domains_page", "host_lights"]

_LABELS = {"cname": "CNAME", "http": "HTTP", "https": "HTTPS", "upstream_check": "Upstream"}


@dataclass(frozen=True)
class Light:
    check: str  # "CNAME", "HTTP", "HTTPS", "Upstream"
    colour: str  # "green" | "red" | "grey"
    state: str  # the status's word: "ok", "missing", "green", "off" …
    reason: str | None  # why it is not green, in words


def host_lights(host: HostDescription) -> list[Light]:
    status = host.status
    checks = ["cname", "http", "https"] + (["upstream_check"] if host.mode == "proxy" else [])
    lights = []
    for check in checks:
        state = str(getattr(status, check))
        if host.checked_at is None:  # never checked: nothing is known yet
            lights.append(Light(_LABELS[check], GREY, UNCHECKED, status.reasons.get("checks")))
            continue
        colour = check_colour(check, state)
        reason = status.reasons.get(check) if colour != GREEN else None
        lights.append(Light(_LABELS[check], colour, state, reason))
    return lights


def _path(name: str, action: str = "") -> str:
    return f"/ui/domains/{quote(name, safe='')}{action}"


def _light(light: Light) -> Html:
    return render(
        '<li data-check="$check" data-colour="$colour"><span class="light light-$colour" '
        'aria-hidden="true"></span><strong>$check</strong> $state$reason</li>',
        check=light.check,
        colour=light.colour,
        state=light.state,
        reason=when(light.reason, render(' — <span class="reason">$r</span>', r=light.reason)),
    )


_NO_FIELDS = Html("")


def _button(action: str, label: str, csrf: str, fields: Html = _NO_FIELDS) -> Html:
    return render(
        '<form method="post" action="$action" class="inline">'
        '<input type="hidden" name="csrf" value="$csrf">$fields'
        '<button type="submit">$label</button></form>',
        action=action,
        csrf=csrf,
        fields=fields,
        label=label,
    )


def _copyable(element_id: str, text: str) -> Html:
    return render(
        '<span class="record" id="$id">$text</span> '
        '<button type="button" data-copy="$id" hidden>Copy</button>',
        id=element_id,
        text=text,
    )


# -- the list --------------------------------------------------------------------------

_LIST = """<section class="card">
<h2>Add a sending domain</h2>
<form method="post" action="/ui/domains" class="stack">
<input type="hidden" name="csrf" value="$csrf">
<label>Sending domain <input type="text" name="domain" placeholder="example.com" required></label>
<label>Tracking host (optional)
<input type="text" name="host" placeholder="links.example.com"></label>
<label>Region <select name="region">$regions</select></label>
<button type="submit">Add</button>
</form>
</section>
<section class="card">
<h2>Sending domains</h2>
$table
</section>"""


def domains_page(
    domains: Sequence[DomainDescription], regions: Mapping[str, str], csrf: str
) -> Html:
    options = join(
        render('<option value="$r">$r ($host)</option>', r=r, host=host)
        for r, host in regions.items()
    )
    rows = join(
        render(
            '<tr><td><a href="$href">$domain</a></td><td>$ownership</td><td>$hosts</td></tr>',
            href=_path(d.domain),
            domain=d.domain,
            ownership=d.ownership,
            hosts=join((_host_summary(h) for h in d.hosts), "<br>") or "no tracking host",
        )
        for d in domains
    )
    table = (
        render(
            "<table><thead><tr><th>Domain</th><th>Ownership</th><th>Tracking hosts</th>"
            "</tr></thead><tbody>$rows</tbody></table>",
            rows=rows,
        )
        if domains
        else Html('<p class="muted">No domains yet: add one above.</p>')
    )
    return render(_LIST, csrf=csrf, regions=options, table=table)


def _host_summary(host: HostDescription) -> Html:
    lights = join(
        render(
            '<span class="light light-$colour" title="$state"></span>$check ',
            colour=li.colour,
            state=li.state,
            check=li.check,
        )
        for li in host_lights(host)
    )
    return render(
        "<code>$host</code> ($mode): $lights", host=host.status.host, mode=host.mode, lights=lights
    )


# -- one sending domain ----------------------------------------------------------------

_DOMAIN = """<section class="card" id="ownership">
<h2>Ownership of $domain</h2>
<ul class="lights">$ownership</ul>
<p>Prove you own $domain with this DNS record:</p>
<table class="records"><thead><tr><th>Name</th><th>Type</th><th>Value</th></tr></thead>
<tbody><tr><td>$txt_name</td><td>TXT</td><td>$txt_value</td></tr></tbody></table>
<p>$verify</p>
</section>
<section class="card" id="links">
<h2>Links of new emails</h2>
<p>$links</p>
</section>
$hosts
<section class="card">
<h2>Remove</h2>
<p>$remove Removes $domain and its tracking hosts; links already sent keep working.</p>
</section>"""


def domain_page(
    domain: DomainDescription,
    link_base: str | None,
    link_reason: str | None,
    csrf: str,
    app_links: Mapping[str, AppLinks] = MappingProxyType({}),
) -> Html:
    """`link_base` None: trackway makes none of the domain's links (`link_reason` says
    whose they are). `app_links`: each tracking host's files (a host left out has none)."""
    verified = domain.ownership == "verified"
    never_checked = not verified and domain.ownership_error is None
    colour = GREY if never_checked else check_colour("ownership", domain.ownership)
    ownership = _light(Light("TXT", colour, domain.ownership, domain.ownership_error))
    return render(
        _DOMAIN,
        domain=domain.domain,
        ownership=ownership,
        txt_name=_copyable("txt-name", domain.txt_record.name),
        txt_value=_copyable("txt-value", domain.txt_record.value),
        verify=_button(_path(domain.domain, "/verify"), "Verify", csrf),
        links=_links(domain.domain, link_base, link_reason),
        hosts=join(
            _host_card(i, h, app_links.get(h.status.host, NO_APP_LINKS), csrf)
            for i, h in enumerate(domain.hosts)
        ),
        remove=_button(_path(domain.domain, "/remove"), f"Remove {domain.domain}", csrf),
    )


def _links(domain: str, link_base: str | None, reason: str | None) -> Html:
    why = render('<span class="reason">$r</span>', r=reason or "")
    if link_base is None:
        return why
    return render(
        'New emails of $domain use <code id="link-base">$base</code>$why',
        domain=domain,
        base=link_base,
        why=when(reason, render(": $why", why=why)),
    )


_HOST = """<section class="card host" data-host="$host">
<h2>Tracking host $host</h2>
<p>Point it at trackway (region $region):</p>
<table class="records"><thead><tr><th>Name</th><th>Type</th><th>Value</th></tr></thead>
<tbody><tr><td>$cname_name</td><td>CNAME</td><td>$cname_target</td></tr></tbody></table>
<ul class="lights">$lights</ul>
<p class="muted">Checked: $checked_at. Links on this host: <code>$link_base</code></p>
<h3>Mode</h3>
$mode
<h3>Certificate</h3>
$certificate
<h3>App links</h3>
$app_links
<p>$remove Reverts its links to the default host $default.</p>
</section>"""


def _host_card(index: int, host: HostDescription, links: AppLinks, csrf: str) -> Html:
    name = host.status.host
    target = host.cname_record.target
    return render(
        _HOST,
        host=name,
        region=host.region,
        cname_name=_copyable(f"cname-name-{index}", host.cname_record.name),
        cname_target=(
            _copyable(f"cname-target-{index}", target)
            if target
            else Html('<span class="error">its region is no longer configured</span>')
        ),
        lights=join(_light(light) for light in host_lights(host)),
        checked_at=utc(host.checked_at, "never"),
        link_base=host.status.link_base,
        mode=_mode(name, host, csrf),
        certificate=_certificate(host.certificate, host.certificate_obstacles),
        app_links=_app_links(name, links, csrf),
        remove=_button(_path(name, "/remove"), f"Remove {name}", csrf),
        default=host.cname_record.target or "",
    )


def _mode(name: str, host: HostDescription, csrf: str) -> Html:
    if host.mode == "proxy":
        return render(
            "<p>Proxy: requests go to <code>$upstream</code>.</p><p>$back</p>",
            upstream=host.upstream or "",
            back=_button(_path(name, "/redirect"), "Back to redirect mode", csrf),
        )
    policies = join(render('<option value="$p">$p</option>', p=p) for p in HOST_HEADER_POLICIES)
    fields = render(
        '<label>Upstream <input type="text" name="upstream" '
        'placeholder="https://track.customer.io" required></label> '
        '<label>Host header <select name="host_header">$policies</select></label> ',
        policies=policies,
    )
    return render(
        "<p>Redirect: trackway's own links.</p><p>$form</p>",
        form=_button(_path(name, "/proxy"), "Switch to proxy mode", csrf, fields),
    )


def _certificate(cert: CertificateSummary | None, obstacles: Sequence[str]) -> Html:
    if cert is None:  # the service's reasons why none is ordered, as `certs` says them
        return render(
            '<p class="muted">No certificate yet$why.</p>',
            why=": " + "; ".join(obstacles) if obstacles else "",
        )
    rows = [
        ("Issuer", cert.issuer or "—"),
        ("Expires", utc(cert.not_after)),
        ("Next renewal", "none: the CA refuses this name" if cert.blocked else utc(cert.renew_at)),
        ("Last error", cert.last_error or "none"),
    ]
    if cert.next_attempt is not None:
        rows.append(("Next attempt", utc(cert.next_attempt)))
    return render(
        '<table class="certificate">$rows</table>',
        rows=join(render("<tr><th>$k</th><td>$v</td></tr>", k=k, v=v) for k, v in rows),
    )


_APP_LINKS = """<ul class="app-links">
<li data-file="apple"><strong>Apple</strong> (<code>/.well-known/apple-app-site-association</code>,
<code>/apple-app-site-association</code>): $apple_state</li>
<li data-file="android"><strong>Android</strong> (<code>/.well-known/assetlinks.json</code>):
$android_state</li>
</ul>
<form method="post" action="$save" class="stack app-links">
<input type="hidden" name="csrf" value="$csrf">
<label>Apple AASA JSON (a JSON object, at most 128 KB; empty: not served)
<textarea name="apple" rows="8" spellcheck="false"
placeholder="$apple_example">$apple</textarea></label>
<label>Android assetlinks JSON (a JSON array of statements; empty: not served)
<textarea name="android" rows="8" spellcheck="false"
placeholder="$android_example">$android</textarea></label>
<button type="submit">Save app links</button>
</form>
<p>$remove Stops serving both files.</p>"""


def _app_links(name: str, links: AppLinks, csrf: str) -> Html:
    """What is stored, and the form that replaces it (prefilled, indented to be read:
    saving compacts it again)."""
    return render(
        _APP_LINKS,
        apple_state=_file_state(links.apple),
        android_state=_file_state(links.android),
        save=_path(name, "/app-links"),
        csrf=csrf,
        apple=_indented(links.apple),
        android=_indented(links.android),
        apple_example='{"applinks": {"details": [{"appIDs": [...], '
        '"components": [{"/": "/a/*"}]}]}}',
        android_example='[{"relation": ["delegate_permission/common.handle_all_urls"], '
        '"target": {...}}]',
        remove=_button(_path(name, "/app-links/remove"), "Remove app links", csrf),
    )


def _file_state(text: str | None) -> Html:
    if text is None:
        return Html('<span class="muted">not set</span>')
    return render("set, $size bytes", size=len(text.encode("utf-8")))


def _indented(text: str | None) -> str:
    return "" if text is None else json.dumps(json.loads(text), indent=2, ensure_ascii=False)
