"""Agents' accounts in real browsers, with the portal sending its emails to a local SMTP
server: an invitation from the manager to the agent's day view (own password, TOTP enrolled
from the page's secret), a wrong code refused and counted, a password reset by email, and a
deactivated agent's open day view and room socket closed at once."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator

import pytest
from axes.models import AccessFailureLog
from django.utils import timezone
from django_otp.oath import TOTP
from playwright.sync_api import expect

from portal.models import Membership, Role
from tests import factories
from tests.e2e import harness
from tests.e2e.conftest import WAIT, Browsers
from tests.e2e.test_accessibility import serious_violations
from tests.notifications.servers import SmtpServer
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "Mon-propre-mot-de-passe-2026"  # noqa: S105


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def portal(e2e_db, smtp, tmp_path_factory) -> Iterator[harness.Server]:
    """The portal sending its emails over SMTP to `smtp`, as in production."""
    mail = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port)}
    with harness.running_server(e2e_db, tmp_path_factory.mktemp("accounts"), extra_env=mail) as live:
        yield live


@pytest.fixture
def pages(playwright_driver, tmp_path, portal) -> Iterator[Browsers]:
    pool = Browsers(playwright_driver, tmp_path)
    try:
        yield pool
    finally:
        print("server log:\n" + portal.log_tail())
        for context in pool.contexts:
            context.close()


@pytest.fixture
def structure(e2e_db, django_db_blocker):
    with django_db_blocker.unblock():
        return factories.StructureFactory(name=f"Mairie {uuid.uuid4().hex[:6]}")


def link_sent_to(smtp: SmtpServer, address: str, count: int = 1) -> str:
    """The link of the `count`-th email the portal sent to `address` (text part)."""
    wait_until(lambda: len(smtp.to(address)) >= count, 20, interval=0.2, what=f"email number {count} to {address}")
    body = smtp.to(address)[count - 1].message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://\S+", body).group(0)


def typed_secret(page) -> bytes:
    """The key the enrolment page shows for typing into an app."""
    text = page.text_content("#gv-totp-secret").replace(" ", "").strip()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def code_for(secret: bytes) -> str:
    return f"{TOTP(secret).token():06d}"


def failures(username: str) -> int:
    return AccessFailureLog.objects.filter(username=username).count()


def test_invited_agent_sets_a_password_enrols_and_reaches_the_day_view(portal, smtp, structure, pages,
                                                                       django_db_blocker):
    base = portal.base
    with django_db_blocker.unblock():
        manager = harness.make_member(structure, Role.MANAGER, first_name="Maude", last_name="Manager")
    username, address = f"nina-{uuid.uuid4().hex[:6]}", f"nina-{uuid.uuid4().hex[:6]}@mairie.example.fr"

    # The manager adds the agent: no password field, an invitation goes by email.
    desk = pages.open("manager")
    harness.sign_in(desk, base, manager, "/admin/portal/membership/add/")
    desk.wait_for_selector("#id_username")
    assert desk.query_selector("input[type=password]") is None
    desk.select_option("#id_structure", str(structure.pk))
    desk.select_option("#id_role", "agent")
    desk.fill("#id_username", username)
    desk.fill("#id_first_name", "Nina")
    desk.fill("#id_last_name", "Nouvelle")
    desk.fill("#id_email", address)
    desk.click("input[name=_save]")
    desk.wait_for_url("**/admin/portal/membership/", timeout=WAIT)
    row = desk.locator("#result_list tr", has_text=username)
    expect(row.locator("[data-account-state]")).to_have_attribute("data-account-state", "pending")
    link = link_sent_to(smtp, address)
    assert link.startswith(base + "/comptes/invitation/")

    # The agent chooses a password from the email's link (which then stops working).
    agent = pages.open("agent")
    agent.goto(link)
    assert serious_violations(agent) == [], "invitation page"
    agent.fill("#id_new_password1", NEW_PASSWORD)
    agent.fill("#id_new_password2", NEW_PASSWORD)
    agent.click("#gv-invitation [type=submit]")
    agent.wait_for_url("**/admin/login/", timeout=WAIT)
    assert agent.goto(link).status == 410

    # First sign-in: the password, then the authenticator app is set up from the page.
    agent.goto(f"{base}/admin/login/?next=/admin/day/")
    agent.fill("#id_username", username)
    agent.fill("#id_password", NEW_PASSWORD)
    agent.click("input[type=submit]")
    agent.wait_for_selector("#gv-enrol", timeout=WAIT)
    expect(agent.locator("#gv-qr svg")).to_be_visible()
    assert serious_violations(agent) == [], "enrolment page"
    secret = typed_secret(agent)
    right = code_for(secret)
    agent.fill("#id_code", "000000" if right != "000000" else "111111")  # a wrong code first
    agent.click("#gv-enrol [type=submit]")
    expect(agent.locator("#gv-code-error")).to_be_visible()
    with django_db_blocker.unblock():
        assert failures(username) == 1  # counted by the sign-in throttling
    agent.fill("#id_code", code_for(secret))
    agent.click("#gv-enrol [type=submit]")
    agent.wait_for_selector("#gv-recovery-codes", timeout=WAIT)
    assert agent.locator("#gv-recovery-codes li").count() == 10
    assert serious_violations(agent) == [], "recovery codes page"
    agent.click("#gv-continue")
    agent.wait_for_url("**/admin/day/", timeout=WAIT)
    agent.wait_for_function("() => document.getElementById('gv-day-live').textContent.includes('actives')",
                            timeout=WAIT)
    desk.reload()  # the members list: the invitation was accepted
    row = desk.locator("#result_list tr", has_text=username)
    expect(row.locator("[data-account-state]")).to_have_attribute("data-account-state", "active")


def test_a_wrong_code_is_refused_and_counted_then_the_right_one_signs_in(portal, structure, pages,
                                                                         django_db_blocker):
    with django_db_blocker.unblock():
        agent = harness.make_member(structure, Role.AGENT)
    page = pages.open("agent")
    page.goto(f"{portal.base}/admin/login/?next=/admin/day/")
    page.fill("#id_username", agent.username)
    page.fill("#id_password", harness.AGENT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#gv-second-factor", timeout=WAIT)
    with django_db_blocker.unblock():
        right = factories.next_totp_code(agent)
    page.fill("#id_code", "123456" if right != "123456" else "654321")
    page.click("#gv-second-factor [type=submit]")
    expect(page.locator("#gv-code-error")).to_be_visible()
    assert "/comptes/second-facteur/" in page.url
    assert serious_violations(page) == [], "second factor page with an error"
    with django_db_blocker.unblock():
        assert failures(agent.username) == 1
    page.fill("#id_code", right)
    page.click("#gv-second-factor [type=submit]")
    page.wait_for_url("**/admin/day/", timeout=WAIT)
    page.click("#gv-my-security")
    page.wait_for_selector("#gv-sessions", timeout=WAIT)
    assert serious_violations(page) == [], "my security page"


def test_password_reset_by_email_end_to_end(portal, smtp, structure, pages, django_db_blocker):
    address = f"reset-{uuid.uuid4().hex[:6]}@mairie.example.fr"
    with django_db_blocker.unblock():
        agent = harness.make_member(structure, Role.AGENT, email=address)
    page = pages.open("agent")
    page.goto(f"{portal.base}/admin/login/")
    page.click(".password-reset-link a")
    page.fill("#id_email", address)
    page.click("input[type=submit]")
    page.wait_for_url("**/comptes/mot-de-passe/envoye/", timeout=WAIT)
    page.goto(link_sent_to(smtp, address))
    page.wait_for_selector("#id_new_password1", timeout=WAIT)
    page.fill("#id_new_password1", NEW_PASSWORD)
    page.fill("#id_new_password2", NEW_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/comptes/mot-de-passe/termine/", timeout=WAIT)

    page.goto(f"{portal.base}/admin/login/?next=/admin/day/")
    page.fill("#id_username", agent.username)
    page.fill("#id_password", NEW_PASSWORD)
    page.click("input[type=submit]")
    with django_db_blocker.unblock():
        harness.second_factor(page, agent)
    page.wait_for_url("**/admin/day/", timeout=WAIT)


def test_a_deactivated_agents_day_view_and_room_socket_close(portal, structure, pages, django_db_blocker):
    base = portal.base
    with django_db_blocker.unblock():
        agent = harness.make_member(structure, Role.AGENT)
        manager = harness.make_member(structure, Role.MANAGER)
        room = factories.appointment(structure, agent, start=timezone.now() + timezone.timedelta(minutes=5)).room
        membership = Membership.objects.get(user=agent)
    day = pages.open("agent")
    with django_db_blocker.unblock():
        harness.sign_in(day, base, agent, "/admin/day/")
    day.wait_for_url("**/admin/day/", timeout=WAIT)
    day.wait_for_function("() => document.getElementById('gv-day-live').textContent.includes('actives')",
                          timeout=WAIT)
    call = day.context.new_page()  # the same browser (session): the room in another tab
    call.goto(f"{base}/r/{room.slug}/agent/")
    call.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    call.wait_for_function("() => window.gvDebug && window.gvDebug.connected", timeout=WAIT)

    desk = pages.open("manager")
    with django_db_blocker.unblock():
        harness.sign_in(desk, base, manager, "/admin/portal/membership/")
    desk.wait_for_url("**/admin/portal/membership/", timeout=WAIT)
    desk.check(f"input[name=_selected_action][value='{membership.pk}']")
    desk.select_option("select[name=action]", "deactivate_members")
    desk.click("button[name=index]")
    expect(desk.locator(f"#result_list input[value='{membership.pk}']").locator("xpath=ancestor::tr")
           .locator("[data-account-state]")).to_have_attribute("data-account-state", "deactivated")

    expect(day.locator("#gv-day-live")).to_have_attribute("data-state", "signed-out", timeout=WAIT)
    expect(call.locator("#gv-end")).to_be_visible(timeout=WAIT)
    expect(call.locator("#gv-end-title")).to_have_text("Session expirée")
    assert not call.evaluate("() => window.gvDebug.connected")
    day.reload()
    assert "/admin/login/" in day.url  # signed out
