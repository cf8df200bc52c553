"""Server-rendered pages for people (join pages, later the agenda and dashboard): Jinja2 with
autoescaping, the person's language, and headers that forbid inline scripts."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from calendars.i18n import Catalogues, Language

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class Pages:
    """Renders templates from `orchestrator/templates`; the app factory builds one."""

    def __init__(self, catalogues: Catalogues) -> None:
        self.catalogues = catalogues
        self.environment = Environment(
            loader=PackageLoader("orchestrator", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            # The templates ship with the code: no need to look at their files again at every
            # render (two stat() calls a card, thousands at a slot's start).
            auto_reload=False,
        )

    def language(self, locale: str | None) -> Language:
        return self.catalogues.get(locale)

    def fragment(self, template: str, locale: str | None, **context: Any) -> str:
        """A piece of a page (a dashboard card), rendered exactly as the page renders it."""
        language = self.language(locale)
        return self.environment.get_template(template).render(
            _=language.gettext, lang=language.locale, language=language, **context
        )

    def render(
        self,
        template: str,
        locale: str | None,
        *,
        status: int = 200,
        csp: str = CONTENT_SECURITY_POLICY,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> web.Response:
        language = self.language(locale)
        html = self.environment.get_template(template).render(
            _=language.gettext, lang=language.locale, language=language, **context
        )
        response = web.Response(text=html, content_type="text/html", charset="utf-8", status=status)
        response.headers.update(
            {
                "Content-Security-Policy": csp,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
                **(headers or {}),
            }
        )
        return response
