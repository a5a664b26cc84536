"""Static files as deployed: collected with the manifest storage, served by WhiteNoise."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection

from tests import factories
from tests.e2e.harness import AGENT_PASSWORD, make_appointment
from tests.production.server import daphne, production_env

pytestmark = [pytest.mark.services]


def test_collectstatic_with_the_production_storage_finds_every_reference(collected):
    manifest = json.loads((collected.static_root / "staticfiles.json").read_text())["paths"]
    # Every url() of the DSFR CSS was resolved to a hashed, existing file.
    css = (collected.static_root / manifest["dsfr/dsfr.citizen.min.css"]).read_text()
    referenced = set(re.findall(r"url\(\s*[\"']?([^)\"']+)", css))
    assert referenced, "the DSFR CSS references fonts and icons"
    for url in referenced:
        if url.startswith("data:"):
            continue
        target = (collected.static_root / "dsfr" / url.split("#")[0].split("?")[0]).resolve()
        assert target.is_file(), url
        assert re.search(r"\.[0-9a-f]{12}\.", target.name), f"{url} is not the hashed name"
    # Compressed once here, so WhiteNoise serves them without compressing per request.
    hashed_css = collected.static_root / manifest["dsfr/dsfr.citizen.min.css"]
    assert hashed_css.with_name(hashed_css.name + ".gz").is_file()
    assert hashed_css.with_name(hashed_css.name + ".br").is_file()


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def static_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


@pytest.mark.django_db(transaction=True)
def test_every_page_answers_under_the_production_static_storage(collected, tmp_path):
    from portal.citizen import make_token
    from rooms import tokens

    agent, room = make_appointment(start_in_minutes=5)
    appointment = room.appointment
    env = production_env(collected.var_dir, collected.static_root, DATABASE_URL=database_url())
    with daphne(env, tmp_path / "daphne.log") as server:
        seen: dict[str, int] = {}
        policies: dict[str, str] = {}
        assets: set[str] = set()

        def visit(browser, path: str, expected: int = 200) -> str:
            answer = browser.get(path)
            seen[path] = answer.status
            policies[path] = answer.header("Permissions-Policy")
            assert answer.status < 500, f"{path}: {answer.status}\n{server.log_tail()}"
            assert answer.status == expected, f"{path}: {answer.status} {answer.header('Location')}"
            if answer.status == 200 and "text/html" in answer.header("Content-Type"):
                assets.update(static_urls(answer.text))
            return answer.text

        citizen = server.browser()
        visit(citizen, f"/r/{room.slug}/")  # the join page (code form)
        visit(citizen, f"/r/{room.slug}/?t={tokens.make(room)}")  # the personal link's page
        link = citizen.post_form(f"/r/{room.slug}/", {  # its button binds it
            "csrfmiddlewaretoken": citizen.cookies["csrftoken"], "t": tokens.make(room)})
        assert link.status == 302 and link.header("Location").endswith(f"/r/{room.slug}/room/"), link.status
        visit(citizen, f"/r/{room.slug}/room/")  # the waiting room / call page
        token = make_token(appointment)
        visit(citizen, f"/rdv/{token}/test/")  # device test
        visit(citizen, f"/rdv/{token}/")  # cancel / move

        agent_browser = server.browser()
        visit(agent_browser, "/admin/login/")
        login = agent_browser.post_form("/admin/login/?next=/admin/day/", {
            "csrfmiddlewaretoken": agent_browser.cookies["csrftoken"],
            "username": agent.username, "password": AGENT_PASSWORD,
        })
        # The password, then the second factor: a code of the agent's app, from the shared secret.
        assert login.status == 302 and login.header("Location") == "/comptes/second-facteur/", (
            login.status, login.text[:500])
        visit(agent_browser, "/comptes/second-facteur/")
        login = agent_browser.post_form("/comptes/second-facteur/", {
            "csrfmiddlewaretoken": agent_browser.cookies["csrftoken"], "code": factories.next_totp_code(agent)})
        assert login.status == 302 and login.header("Location") == "/admin/day/", (login.status, login.text[:500])
        session_cookie = next(c for c in login.headers.get_all("Set-Cookie") if c.startswith("sessionid="))
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie, session_cookie
        visit(agent_browser, "/admin/")
        visit(agent_browser, "/admin/day/")
        visit(agent_browser, "/admin/portal/appointment/")
        visit(agent_browser, f"/admin/portal/appointment/{appointment.pk}/change/")
        entry = agent_browser.get(f"/r/{room.slug}/agent/")  # the agent's way into the call
        assert entry.status == 302 and entry.header("Location").endswith(f"/r/{room.slug}/room/"), entry.status
        visit(agent_browser, f"/r/{room.slug}/room/")
        visit(agent_browser, "/jsi18n/")

        # Every page links hashed static names, each served compressed and cached for good.
        assert any("dsfr.citizen.min." in url for url in assets) and any("/admin/" in url for url in assets)
        for url in sorted(assets):
            assert re.search(r"\.[0-9a-f]{12}\.\w+$", url), f"{url}: not a hashed name"
            answer = citizen.get(url, **{"Accept-Encoding": "br, gzip"})
            assert answer.status == 200, url
            assert "max-age=315360000" in answer.header("Cache-Control"), (url, answer.header("Cache-Control"))
            assert "immutable" in answer.header("Cache-Control"), url
            if url.endswith((".css", ".js")):
                assert answer.header("Content-Encoding") == "br", url
        css = next(url for url in assets if "dsfr.citizen.min." in url)
        gzip_only = citizen.get(css, **{"Accept-Encoding": "gzip"})
        assert gzip_only.header("Content-Encoding") == "gzip" and gzip_only.body[:2] == b"\x1f\x8b"
        plain = citizen.get(css)
        assert plain.header("Content-Encoding") == "" and len(plain.body) > len(gzip_only.body)
        # An unhashed name is served too, but never cached for good (it can change).
        unhashed = citizen.get("/static/dsfr/dsfr.citizen.min.css")
        assert unhashed.status == 200 and "immutable" not in unhashed.header("Cache-Control")
        assert len(seen) == 12  # with the sign-in's second-factor page
        capture = {path for path, value in policies.items() if "camera=(self)" in value}
        assert capture == {f"/r/{room.slug}/", f"/r/{room.slug}/?t={tokens.make(room)}", f"/r/{room.slug}/room/",
                           f"/rdv/{token}/test/"}, policies
        assert all("camera=()" in value for path, value in policies.items() if path not in capture), policies
        # HSTS, as behind the HTTPS proxy.
        assert "max-age=31536000" in agent_browser.get("/admin/").header("Strict-Transport-Security")
