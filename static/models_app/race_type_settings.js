// The race-type settings (models_app/_race_type_settings.html, in the model wizard and the race form): only
// the chosen race type's settings show, and the fixed object locations only when the objects are fixed.
(function () {
  "use strict";

  var choice = document.querySelector("input[name='race_type']");
  if (!choice || !choice.form) { return; }
  var form = choice.form;

  function checked(name) {
    var input = form.querySelector("input[name='" + name + "']:checked");
    return input ? input.value : "";
  }

  function showSettings() {
    var race = checked("race_type");
    form.querySelectorAll("[data-show-race]").forEach(function (el) { el.hidden = el.dataset.showRace !== race; });
    var placement = checked("object_placement") || "random";
    form.querySelectorAll("[data-show-placement]").forEach(function (el) { el.hidden = el.dataset.showPlacement !== placement; });
  }

  form.addEventListener("change", showSettings);
  showSettings();
})();
