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


class QuotaDefaultsForm(forms.ModelForm):
    class Meta:
        from training.models import QuotaSettings

        model = QuotaSettings
        fields = ("compute_minutes", "models_count", "new_racer_compute_minutes", "new_racer_models_count",
                  "concurrent_jobs")
        labels = {"compute_minutes": "Compute minutes per month (default)", "models_count": "Models (default)",
                  "new_racer_compute_minutes": "A new racer's compute minutes",
                  "new_racer_models_count": "A new racer's models", "concurrent_jobs": "Jobs at once per racer"}

    def clean(self):
        cleaned = super().clean()
        for name in ("compute_minutes", "models_count", "new_racer_compute_minutes", "new_racer_models_count"):
            value = cleaned.get(name)
            if value is not None and value < -1:
                self.add_error(name, "Enter 0 or more, or -1 for unlimited.")
        if cleaned.get("concurrent_jobs") == 0:
            self.add_error("concurrent_jobs", "A racer runs at least one job at once.")
        return cleaned


class RacerQuotaForm(forms.Form):
    compute_minutes = forms.IntegerField(required=False, min_value=-1, label="Compute minutes per month",
                                         help_text="-1: unlimited; empty: the default")
    models_count = forms.IntegerField(required=False, min_value=-1, label="Models",
                                      help_text="-1: unlimited; empty: the default")


class RegistrationForm(forms.Form):
    from console.models import Registration

    registration = forms.ChoiceField(choices=Registration.choices, widget=forms.RadioSelect, label="Sign-up")


class InvitationForm(forms.Form):
    email = forms.EmailField(required=False, help_text="Optional: mail the link there (when mail is set up).")
