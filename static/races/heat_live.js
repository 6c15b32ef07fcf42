// A head-to-model heat's live view, shared by the heat page and race day's broadcast: each car's chase
// frames (each with the track map of both cars inset), the sim clock, each car's lap and the gap between them, from
// the heat job's "frame" and "tick" events (training's heat worker).
window.HeatLive = (function () {
  "use strict";

  function seconds(value) {
    if (value === null || value === undefined) { return "–"; }
    var minutes = Math.floor(value / 60), rest = value - minutes * 60;
    return String(minutes).padStart(2, "0") + ":" + rest.toFixed(3).padStart(6, "0");
  }

  function attach(stage, counters) {
    function one(selector) { return stage.querySelector(selector); }
    function text(selector, value) { var element = one(selector); if (element) { element.textContent = value; } }
    function count(name) { counters.dataset[name] = String(Number(counters.dataset[name] || 0) + 1); }
    var laps = Number(stage.dataset.laps) || 1;

    return {
      setCars: function (names, lapCount) {
        names.forEach(function (name, car) { text('[data-car-name="' + car + '"]', name); });
        laps = lapCount || 1;
      },
      reset: function () {
        stage.querySelectorAll("[data-car-frame]").forEach(function (image) { image.hidden = true; });
        text("[data-heat-clock]", seconds(0));
        text("[data-heat-gap]", "–");
      },
      frame: function (payload) {
        var image = one('[data-car-frame="' + payload.car + '"]');
        if (!image || payload.view !== "chase") { return; }
        image.src = "data:image/jpeg;base64," + payload.jpeg;
        image.hidden = false;
        count("frames");
      },
      tick: function (tick) {
        count("ticks");
        text("[data-heat-clock]", seconds(tick.sim_time));
        (tick.cars || []).forEach(function (car, index) {
          text('[data-car-lap="' + index + '"]', Math.min(car.lap || 1, laps) + " / " + laps);
          text('[data-car-last="' + index + '"]', seconds(car.last_lap));
          text('[data-car-resets="' + index + '"]', String(car.reset_count || 0));
        });
        if (tick.gap === null || tick.gap === undefined) { text("[data-heat-gap]", "–"); return; }
        // gap > 0: car 1 is that many seconds behind car 0.
        var leader = one('[data-car-name="' + (tick.gap >= 0 ? 0 : 1) + '"]');
        text("[data-heat-gap]", (leader ? leader.textContent : "") + " ahead by " + Math.abs(tick.gap).toFixed(3) + " s");
      }
    };
  }

  return { attach: attach, seconds: seconds };
}());
