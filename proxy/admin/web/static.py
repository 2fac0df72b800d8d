"""The admin page's stylesheet and its one script (the copy buttons), served from
`/ui/static/`: the Content-Security-Policy allows no inline script or style."""

from __future__ import annotations

from aiohttp import web

__all__ = ["SCRIPT", "STYLE", "add_static_routes"]

# Copy buttons are hidden until this script shows them: without JavaScript the page
# shows the records as selectable text and no button that does nothing.
SCRIPT = """\
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var text = source ? source.textContent : "";
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { select(source); });
      } else {
        select(source);
      }
    });
  });
  function select(node) {
    if (!node) { return; }
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
});
"""

STYLE = """\
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; align-items: center; gap: 2em; padding: .6em 1.5em;
  background: #1d2330; color: #fff; }
header a { color: #fff; margin-right: 1em; }
header .brand { font-weight: 700; }
nav { display: flex; align-items: center; }
main { max-width: 72em; margin: 0 auto; padding: 1em 1.5em 3em; }
section.card { background: #fff; border: 1px solid #dde1e7; border-radius: 6px;
  padding: .8em 1.2em; margin: 1em 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e6e8ec;
  vertical-align: top; }
td.num, th.num { text-align: right; }
code, .record { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
.record { background: #f0f2f5; padding: .1em .35em; border-radius: 3px; }
form.inline { display: inline; margin: 0; }
form.stack label { display: block; margin: .3em 0; }
input[type=text], select { padding: .3em; min-width: 18em; }
textarea { display: block; width: 100%; box-sizing: border-box; margin-top: .2em;
  padding: .3em; font: 13px/1.4 ui-monospace, monospace; }
button { padding: .3em .8em; cursor: pointer; }
.light { display: inline-block; width: .8em; height: .8em; border-radius: 50%;
  margin-right: .35em; vertical-align: middle; }
.light-green { background: #1f9d55; }
.light-red { background: #d63a3a; }
.light-grey { background: #a0a6b0; }
ul.lights { list-style: none; padding: 0; }
ul.lights li { margin: .3em 0; }
.reason { color: #4a5260; }
.notice { background: #e8f4ea; border: 1px solid #b8dcbf; padding: .5em .8em; }
.error { background: #fbeaea; border: 1px solid #e8b9b9; padding: .5em .8em; }
.muted { color: #6b7280; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #4a5260; }
svg.chart .human.clicks { fill: #2f6fd0; }
svg.chart .bot.clicks { fill: #9dbbea; }
svg.chart .human.opens { fill: #1f9d55; }
svg.chart .bot.opens { fill: #9ed6b5; }
ul.legend { list-style: none; padding: 0; display: flex; gap: 1.2em; font-size: .9em; }
.swatch { display: inline-block; width: .9em; height: .9em; margin-right: .3em;
  vertical-align: middle; }
.swatch.human.clicks { background: #2f6fd0; }
.swatch.bot.clicks { background: #9dbbea; }
.swatch.human.opens { background: #1f9d55; }
.swatch.bot.opens { background: #9ed6b5; }
"""


async def _script(request: web.Request) -> web.Response:
    return web.Response(text=SCRIPT, content_type="text/javascript")


async def _style(request: web.Request) -> web.Response:
    return web.Response(text=STYLE, content_type="text/css")


def add_static_routes(app: web.Application) -> None:
    app.router.add_get("/static/admin.js", _script)
    app.router.add_get("/static/admin.css", _style)
