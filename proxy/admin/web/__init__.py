"""The admin page: server-rendered HTML on the admin listener, behind the admin token.

`site` mounts it at `/ui/`; `guard` requires a session (else the login form), checks each
state-changing form's CSRF token and adds security headers; `sessions` keeps the logins
(pure); `login` opens and closes them; `domain_pages` and `message_pages` are the screens'
handlers, `domain_views`, `message_views` and `chart` their HTML (pure), built with
`markup` (escaped templates); `static` is the stylesheet and the copy buttons' script.
The pages do what the admin API does, through the same `DomainService` and readers.
"""

from proxy.admin.web.message_pages import Readers
from proxy.admin.web.sessions import Session, Sessions
from proxy.admin.web.site import PREFIX, add_admin_pages

__all__ = ["PREFIX", "Readers", "Session", "Sessions", "add_admin_pages"]
