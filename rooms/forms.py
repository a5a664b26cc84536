from django import forms
from django.utils.translation import gettext_lazy as _

from rooms.protocol import MAX_NAME, claims_role


class JoinForm(forms.Form):
    name = forms.CharField(
        label=_("Your name"), max_length=MAX_NAME, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password = forms.CharField(
        label=_("Room code"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
        help_text=_("The code received with the link (8 digits)."),
    )
    # Shown to everyone in the call next to the name ("Interprète"): the agent admits knowingly.
    interpreter = forms.BooleanField(label=_("I am coming as an interpreter"), required=False)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Please enter your name."))
        if claims_role(name):  # the same rule as a rename in the room (rooms/protocol.py)
            raise forms.ValidationError(_("This name is reserved for the service's staff: choose another one."))
        return name
