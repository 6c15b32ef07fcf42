// Race times in the racer's own time zone: every <time data-local-time datetime="ISO"> is rewritten with the
// browser's zone and its name (the server's text, in the organiser's zone, stays without JS).
(function () {
  "use strict";

  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });

  function localize(root) {
    (root || document).querySelectorAll("time[data-local-time]").forEach(function (element) {
      var moment = new Date(element.getAttribute("datetime"));
      if (!isNaN(moment)) { element.textContent = format.format(moment); }
    });
  }

  window.raceTimes = { localize: localize };
  localize(document);
})();
