from django.apps import AppConfig


class RacesConfig(AppConfig):
    name = "races"
    verbose_name = "Community races"

    def ready(self):
        # The training app announces finished evaluations and heats without knowing who listens (the arrows point
        # down); a race submission's result is recorded in this one receiver.
        from races import receivers  # noqa: F401
