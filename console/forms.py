from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.core.validators import RegexValidator

from console.models import RACER_NAME_HELP, RACER_NAME_PATTERN


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional. Only used to reach you about your races.")

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class RacerNameForm(forms.Form):
    racer_name = forms.CharField(
        label="Racer name",
        max_length=64,
        validators=[RegexValidator(RACER_NAME_PATTERN, RACER_NAME_HELP)],
        help_text=RACER_NAME_HELP,
        widget=forms.TextInput(attrs={"autocomplete": "nickname", "autofocus": True}),
    )
