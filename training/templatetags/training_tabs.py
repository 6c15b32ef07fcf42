"""{% training_tabs model %}: the training and evaluation tabs on the model page (models_app/detail.html
includes training/model_tabs.html), with the latest training job and evaluation at a glance."""

from django import template
from django.urls import reverse

from training.models import EvaluationJob, TrainingJob

register = template.Library()


@register.inclusion_tag("training/_summary.html")
def training_tabs(model, tab="model"):
    return {"model": model, "model_url": reverse("models:detail", args=[model.pk]), "tab": tab,
            "job": TrainingJob.objects.filter(model=model).first(),
            "evaluation": EvaluationJob.objects.filter(model=model).first()}
