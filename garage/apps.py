from django.apps import AppConfig


class GarageConfig(AppConfig):
    name = "garage"
    verbose_name = "Garage"

    def ready(self):
        from garage import signals  # noqa: F401  (gives every new racer the default vehicles)
