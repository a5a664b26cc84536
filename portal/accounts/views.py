"""Thin views over the accounts' domain modules, styled as the back-office (admin templates).

Sign-in: `login` (password; Axes counts failures) → `second_factor` (code or recovery
code; wrong codes count for Axes too) or `enrol` (first sign-in: QR code, first code,
recovery codes) → signed in. `invitation` sets the invited person's own password;
`reset_*` are Django's reset views with our rate limits. `security`: one's own sessions,
remembered browsers and recovery codes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import cast

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from portal import clientaddress
from portal.accounts import invitations, policy, secondfactor, sessions
from portal.accounts.forms import CodeForm, EnrolForm, OwnPasswordForm, ResetForm
from portal.accounts.tokens import TOKEN_MAX_LENGTH, user_from
from portal.models import ResetRequest
from portal.security import login_locked

NEXT = "gv_2fa_next"


def _context(request: HttpRequest, **extra) -> dict:
    return {**admin.site.each_context(request), **extra}


def _safe_next(request: HttpRequest, target: str | None) -> str:
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("admin:index")


def _complete(request: HttpRequest, user, backend: str, device) -> None:
    """Both factors given (or none owed): the person is signed in now."""
    secondfactor.clear_pending(request)
    auth_login(request, user, backend=backend)  # a new session key: nothing of before carries over
    if device is not None:
        otp_login(request, device)
    sessions.record(request, user)


class LoginView(auth_views.LoginView):
    """The back-office's sign-in page (admin's template): the password step."""

    template_name = "admin/login.html"
    authentication_form = AdminAuthenticationForm

    def get_default_redirect_url(self):
        return reverse("admin:index")

    def get(self, request, *args, **kwargs):
        if admin.site.has_permission(request):  # signed in already (both factors): where they were going
            return HttpResponseRedirect(self.get_success_url())
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(admin.site.each_context(self.request), title=_("Log in"),
                       app_path=self.request.get_full_path(), username=self.request.user.get_username())
        return context

    def form_valid(self, form):
        request, user = self.request, form.get_user()
        target = self.get_success_url()
        backend = getattr(user, "backend", "django.contrib.auth.backends.ModelBackend")
        if not policy.requires_second_factor(user):
            _complete(request, user, backend, None)
            return HttpResponseRedirect(target)
        device = secondfactor.totp_device(user)
        if device is not None and secondfactor.remembered(user, request.COOKIES.get(secondfactor.REMEMBER_COOKIE)):
            _complete(request, user, backend, device)
            return HttpResponseRedirect(target)
        request.session.cycle_key()  # the pending step starts a session of its own
        secondfactor.set_pending(request, user, backend)
        request.session[NEXT] = target
        return redirect("accounts:second_factor" if device is not None else "accounts:enrol")


login = sensitive_post_parameters()(csrf_protect(never_cache(LoginView.as_view())))


def _locked(request: HttpRequest, user) -> bool:
    return not AxesProxyHandler.is_allowed(request, credentials={"username": user.get_username()})


@never_cache
@csrf_protect
@sensitive_post_parameters("code")
def second_factor(request: HttpRequest) -> HttpResponse:
    user = secondfactor.pending_user(request)
    if user is None:
        messages.info(request, _("Sign in again: the second step must follow the password within a few minutes."))
        return redirect("admin:login")
    if secondfactor.totp_device(user) is None:
        return redirect("accounts:enrol")
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        if _locked(request, user):
            return login_locked(request)
        if form.is_valid():
            device = secondfactor.verify(user, form.cleaned_data["code"])
            if device is not None:
                return _signed_in(request, user, device, remember=form.cleaned_data.get("remember", False))
        secondfactor.code_failed(request, user)  # Axes: may lock (its middleware answers then)
        form.add_error(None, _("This code is not valid. Codes change every 30 seconds; a recovery code works once."))
    return render(request, "portal/accounts/second_factor.html",
                  _context(request, form=form, title=_("Second factor")))


def _signed_in(request: HttpRequest, user, device, remember: bool) -> HttpResponse:
    target = _safe_next(request, request.session.get(NEXT))
    backend = request.session.get(secondfactor.PENDING_BACKEND, "django.contrib.auth.backends.ModelBackend")
    _complete(request, user, backend, device)
    response = HttpResponseRedirect(target)
    if isinstance(device, StaticDevice):
        left = secondfactor.remaining_recovery_codes(user)
        messages.warning(request, _("You used a recovery code: %(left)d left. Make new ones in “My security”.")
                         % {"left": left})
    if remember and settings.REMEMBER_BROWSER_DAYS:
        secret, expires = secondfactor.remember(user, request.headers.get("User-Agent", ""))
        response.set_cookie(secondfactor.REMEMBER_COOKIE, secret, expires=expires,
                            secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax")
    return response


@never_cache
@csrf_protect
@sensitive_post_parameters("code")
def enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in: the authenticator app is set up here (QR code made on the server)."""
    user = secondfactor.pending_user(request)
    if user is None:
        messages.info(request, _("Sign in again: the second step must follow the password within a few minutes."))
        return redirect("admin:login")
    if secondfactor.totp_device(user) is not None:
        return redirect("accounts:second_factor")
    device = secondfactor.enrolling_device(request, user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST":
        if _locked(request, user):
            return login_locked(request)
        codes = secondfactor.confirm(device, form.cleaned_data["code"]) if form.is_valid() else None
        if codes is not None:
            target = request.session.get(NEXT)
            _complete(request, user, request.session.get(secondfactor.PENDING_BACKEND,
                                                         "django.contrib.auth.backends.ModelBackend"), device)
            request.session[secondfactor.RECOVERY_CODES_TO_SHOW] = codes
            request.session[NEXT] = target
            return redirect("accounts:recovery_codes")
        secondfactor.code_failed(request, user)
        form.add_error(None, _("This code is not valid: check the time of your phone, and type the code "
                               "the app shows now."))
    return render(request, "portal/accounts/enrol.html", _context(
        request, form=form, title=_("Set up the second factor"), qr_svg=secondfactor.qr_svg(device),
        secret=secondfactor.secret_of(device)))


@never_cache
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """The recovery codes, shown once, just after they were made."""
    codes = request.session.pop(secondfactor.RECOVERY_CODES_TO_SHOW, None)
    if not request.user.is_authenticated or not codes:
        return redirect("admin:index")
    target = _safe_next(request, request.session.pop(NEXT, None))
    return render(request, "portal/accounts/recovery_codes.html",
                  _context(request, codes=codes, next=target, title=_("Your recovery codes")))


@never_cache
def security(request: HttpRequest) -> HttpResponse:
    """One's own sessions, remembered browsers and recovery codes (admin_view: signed in)."""
    user = cast(User, request.user)
    return render(request, "portal/accounts/security.html", _context(
        request, title=_("My security"), open_sessions=sessions.open_sessions(user),
        current_key=request.session.session_key, browsers=list(user.trusted_browsers.filter(
            expires_at__gt=timezone.now())), codes_left=secondfactor.remaining_recovery_codes(user),
        has_totp=secondfactor.totp_device(user) is not None))


@require_POST
def close_session(request: HttpRequest, pk: int) -> HttpResponse:
    if not sessions.close(request.user, pk):
        messages.error(request, _("No such session: it may have ended already."))
    else:
        messages.success(request, _("The session was closed."))
    return redirect("accounts:security")


@require_POST
def forget_browsers(request: HttpRequest) -> HttpResponse:
    count = secondfactor.forget_browsers(request.user)
    response = redirect("accounts:security")
    response.delete_cookie(secondfactor.REMEMBER_COOKIE)
    messages.success(request, _("Remembered browsers forgotten: %(count)d.") % {"count": count})
    return response


@require_POST
def new_recovery_codes(request: HttpRequest) -> HttpResponse:
    request.session[secondfactor.RECOVERY_CODES_TO_SHOW] = secondfactor.new_recovery_codes(request.user)
    request.session[NEXT] = reverse("accounts:security")
    return redirect("accounts:recovery_codes")


# --- invitations ---
@never_cache
@csrf_protect
@sensitive_post_parameters("new_password1", "new_password2")
def invitation(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = user_from(uidb64)
    valid = user is not None and len(token) <= TOKEN_MAX_LENGTH and invitations.check(user, token)
    if not valid:
        return render(request, "portal/accounts/invitation_invalid.html",
                      _context(request, title=_("Invitation link not valid")), status=410)
    form = OwnPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        invitations.accept(user, form.cleaned_data["new_password1"])
        messages.success(request, _("Your password is set. Sign in now: you will then set up the second factor."))
        return redirect("admin:login")
    return render(request, "portal/accounts/invitation.html",
                  _context(request, form=form, invited=user, title=_("Choose your password")))


# --- password reset: Django's views, our limits ---
def _email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class ResetView(auth_views.PasswordResetView):
    """Same answer whether the address is known or not; at most PASSWORD_RESET_MAX_PER_ADDRESS
    requests per hour from a client address (then 429) and PASSWORD_RESET_MAX_PER_EMAIL per
    email address (then no email, same answer)."""

    template_name = "registration/password_reset_form.html"
    form_class = ResetForm
    email_template_name = "portal/accounts/reset_email.txt"
    subject_template_name = "portal/accounts/reset_subject.txt"
    success_url = reverse_lazy("accounts:reset_done")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **admin.site.each_context(self.request)}

    def form_valid(self, form):
        address = clientaddress.from_request(self.request)[:64]
        email_hash = _email_hash(form.cleaned_data["email"])
        since = timezone.now() - dt.timedelta(hours=1)
        ResetRequest.objects.filter(at__lt=since).delete()  # the table holds one hour at most
        from_address = ResetRequest.objects.filter(address=address, at__gte=since).count()
        if from_address >= settings.PASSWORD_RESET_MAX_PER_ADDRESS:
            return render(self.request, "portal/accounts/reset_limited.html",
                          _context(self.request, title=_("Too many requests")), status=429)
        too_many = ResetRequest.objects.filter(email_hash=email_hash, at__gte=since).count() \
            >= settings.PASSWORD_RESET_MAX_PER_EMAIL
        ResetRequest.objects.create(address=address, email_hash=email_hash)
        if too_many:
            return HttpResponseRedirect(self.get_success_url())  # the same answer, no email
        self.extra_email_context = {"site_url": settings.SITE_URL, "minutes": settings.PASSWORD_RESET_TIMEOUT // 60}
        return super().form_valid(form)


class ResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **admin.site.each_context(self.request)}


class ResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:reset_complete")

    def dispatch(self, *args, **kwargs):
        if len(kwargs.get("uidb64", "")) > 32 or len(kwargs.get("token", "")) > TOKEN_MAX_LENGTH:
            kwargs.update(uidb64="-", token="-")  # noqa: S106  nothing to decode: the "link not valid" page
        return super().dispatch(*args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **admin.site.each_context(self.request)}

    def form_valid(self, form):
        response = super().form_valid(form)
        # A new password ends every open session (and its sockets), and remembered browsers.
        secondfactor.forget_browsers(form.user)
        sessions.end_all(form.user, reason="password reset")
        return response


class ResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **admin.site.each_context(self.request)}
