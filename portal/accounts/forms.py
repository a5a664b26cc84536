"""The accounts' forms: every field bounded and checked, errors said in words."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from portal.accounts import secondfactor


class CodeForm(forms.Form):
    """The second factor: the app's 6 digits, or one recovery code."""

    code = forms.CharField(
        label=_("Code"), max_length=24, strip=True,
        help_text=_("The 6 digits shown by your authenticator app, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True,
                                      "spellcheck": "false", "autocapitalize": "off"}),
    )
    remember = forms.BooleanField(
        label=ngettext_lazy("Remember this browser for %(days)d day", "Remember this browser for %(days)d days",
                            "days") % {"days": settings.REMEMBER_BROWSER_DAYS},
        required=False,
        help_text=_("Only on a computer that is yours alone: sign-in here will then ask for the password only."),
    )

    def __init__(self, *args, allow_remember: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not allow_remember or settings.REMEMBER_BROWSER_DAYS == 0:
            del self.fields["remember"]

    def clean_code(self) -> str:
        code = secondfactor.normalise(self.cleaned_data["code"])
        if not code or not code.isalnum():
            raise forms.ValidationError(_("Type the 6 digits of your app, or a recovery code."))
        return code


class EnrolForm(forms.Form):
    code = forms.CharField(
        label=_("Code shown by the app"), max_length=12, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )

    def clean_code(self) -> str:
        code = secondfactor.normalise(self.cleaned_data["code"])
        if not (code.isdigit() and len(code) == 6):
            raise forms.ValidationError(_("The code is 6 digits."))
        return code


class OwnPasswordForm(SetPasswordForm):
    """The invited person chooses their password (Django's validators apply)."""


class ResetForm(PasswordResetForm):
    email = forms.EmailField(label=_("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
