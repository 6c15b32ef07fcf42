from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from garage.forms import VehicleForm
from garage.models import Vehicle
from simulator import spec


def _get_vehicle_for_user(request, pk) -> Vehicle:
    return get_object_or_404(Vehicle, pk=pk, owner=request.user)


@login_required
@require_GET
def vehicle_list(request):
    vehicles = Vehicle.objects.filter(owner=request.user)
    return render(request, "garage/list.html", {"vehicles": vehicles})


@login_required
@require_GET
def vehicle_detail(request, pk):
    return render(request, "garage/detail.html", {"vehicle": _get_vehicle_for_user(request, pk)})


@login_required
@require_http_methods(["GET", "POST"])
def vehicle_build(request):
    return _vehicle_form_page(request, instance=None)


@login_required
@require_http_methods(["GET", "POST"])
def vehicle_mod(request, pk):
    return _vehicle_form_page(request, instance=_get_vehicle_for_user(request, pk))


def _vehicle_form_page(request, instance):
    form = VehicleForm(request.POST or None, owner=request.user, instance=instance)
    if request.method == "POST" and form.is_valid():
        vehicle = form.save()
        messages.success(request, f"{vehicle.name} is in your Garage." if instance is None
                         else f"{vehicle.name} is modded. Models trained with it keep their own copy.")
        return redirect("garage:detail", pk=vehicle.pk)
    return render(request, "garage/build.html", {"form": form, "vehicle": instance, "limits": _limits()})


def _limits() -> dict:
    """SPEC 2 ranges, handed to build.js so the live preview flags the same values the server refuses."""
    return {
        "min_actions": spec.MIN_ACTIONS, "max_actions": spec.MAX_ACTIONS,
        "steering_limit": spec.STEERING_LIMIT, "min_speed": spec.MIN_SPEED,
        "max_speed": spec.MAX_SPEED, "min_max_steering": spec.MIN_MAX_STEERING,
    }


@login_required
@require_http_methods(["GET", "POST"])
def vehicle_delete(request, pk):
    vehicle = _get_vehicle_for_user(request, pk)
    if request.method == "POST":
        vehicle.delete()
        messages.success(request, f"{vehicle.name} left your Garage. Models trained with it are unchanged.")
        return redirect("garage:list")
    return render(request, "garage/delete.html", {"vehicle": vehicle})
