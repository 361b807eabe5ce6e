"""wapiti's sign-in for the portal (`--form-script`), used by scripts/security_scan.py.

wapiti finds a login form by English and French field names ("user", "login", "mail"); the
portal's are Spanish (`usuario`, `contrasena`, with the hidden `csrf_token`), so wapiti's own
detector finds no form. This fills our form with what `--form-url`, `--form-user` and
`--form-password` give, from the page's own CSRF token, and leaves the session cookie to the
crawl. It runs inside wapiti's process and virtual environment, not the portal's.
"""

from __future__ import annotations

import re


async def run(crawler_configuration, form_credential, headless="no"):
    from wapitiCore.net import Request
    from wapitiCore.net.crawler import AsyncCrawler

    if form_credential is None:
        raise RuntimeError("give --form-url, --form-user and --form-password")
    url = form_credential.url
    async with AsyncCrawler.with_configuration(crawler_configuration) as crawler:
        page = await crawler.async_get(Request(url))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.content)
        if page.status != 200 or token is None:
            raise RuntimeError(f"{url} answered {page.status} without the sign-in form")
        answer = await crawler.async_send(Request(
            url, method="POST", referer=url, post_params=[
                ["csrf_token", token.group(1)],
                ["usuario", form_credential.username],
                ["contrasena", form_credential.password],
            ]))
        # A sign-in that works answers 303 to Mi oficina; a refused one re-renders the form.
        where = answer.headers.get("location", "")
        if answer.status != 303 or not where.split("?")[0].endswith("/mi-oficina"):
            raise RuntimeError(f"sign-in refused: {answer.status} {where!r}")
        crawler_configuration.cookies = crawler.cookie_jar
