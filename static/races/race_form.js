// Create / edit / clone race: the racer's time zone (times are typed in it); the race type's settings show as
// chosen (models_app/race_type_settings.js). The server validates everything again.
(function () {
  "use strict";

  var form = document.getElementById("race-form");
  if (!form) { return; }
  var zoneField = form.elements.time_zone;
  var zone = "UTC";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { /* old browser */ }

  function pad(number) { return String(number).padStart(2, "0"); }

  function localValue(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  // A fresh form shows the server's times in the zone it was given; rewrite them in this browser's zone.
  function useBrowserZone() {
    if (form.dataset.bound === "true" || !zoneField) { return; }
    var from = zoneField.value || "UTC";
    if (from === zone) { return; }
    ["opens_at", "closes_at"].forEach(function (name) {
      var input = form.elements[name];
      if (!input || !input.value) { return; }
      var moment = zonedToDate(input.value, from);
      if (moment) { input.value = localValue(moment); }
    });
    zoneField.value = zone;
    var label = document.querySelector("[data-time-zone-name]");
    if (label) { label.textContent = zone; }
  }

  // "YYYY-MM-DDTHH:MM" read in the IANA zone `name` -> Date (the offset found by formatting a guess).
  function zonedToDate(text, name) {
    var guess = new Date(text + ":00Z");
    if (isNaN(guess)) { return null; }
    var parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: name, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit" }).formatToParts(guess).forEach(function (part) {
      parts[part.type] = part.value;
    });
    var shown = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute);
    return new Date(guess.getTime() - (shown - guess.getTime()));
  }

  useBrowserZone();
})();
