"""The sender's library: every trackable link of an email (HTML and text) becomes a
signed link, every other byte stays as it was.

Scanners (`html_scan`, `text_scan`) find links in one linear pass; `link_rules` says
which to track and why not; `utm` adds campaign parameters; `rewriter` puts it together
and reports each link; `body_kind` tells bytes that are no text to rewrite. Pure: no
I/O, no server. Imports `redirector.links` and `config`.
"""

from redirector.rewrite.body_kind import not_text
from redirector.rewrite.link_rules import LinkRules
from redirector.rewrite.rewriter import LinkReport, Rewriter, RewriteResult, SendContext

__all__ = ["LinkReport", "LinkRules", "RewriteResult", "Rewriter", "SendContext", "not_text"]
