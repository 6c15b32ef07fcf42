// The heats page follows the race: when a heat is paired, starts or ends (the race socket's "heats" event),
// the page is read again (the server renders the bracket).
(function () {
  "use strict";

  var root = document.getElementById("race-heats");
  if (!root || !window.WebSocket) { return; }
  var reloading = null;
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var socket = new WebSocket(scheme + location.host + root.dataset.socket);
  socket.addEventListener("message", function (event) {
    var name = JSON.parse(event.data).event;
    if (name === "heats" && !reloading) {
      reloading = setTimeout(function () { location.reload(); }, 300);
    }
  });
}());
