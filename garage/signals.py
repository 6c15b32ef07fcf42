from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from garage.models import Vehicle


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="garage-default-vehicles")
def give_new_racer_default_vehicles(sender, instance, created, raw=False, **kwargs):
    # A signal because accounts are created in several places (sign-up, admin, createsuperuser, tests).
    if created and not raw:
        Vehicle.objects.create_defaults(instance)
