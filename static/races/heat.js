// A heat's page: while the heat races, both cars live (heat_live.js) from the heat's socket; when the heat
// starts or ends (the "heat" event), the page is read again (the server renders the result).
(function () {
  "use strict";

  var root = document.getElementById("heat-page");
  if (!root) { return; }
  var stage = root.querySelector("[data-heat-stage]");
  var idle = root.querySelector("[data-idle]");
  var live = stage ? window.HeatLive.attach(stage, root) : null;
  var RECONNECT_MS = 2000;

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + root.dataset.socket);
    socket.addEventListener("open", function () { root.dataset.socketState = "open"; });
    socket.addEventListener("message", function (event) {
      var message = JSON.parse(event.data);
      if (message.event === "heat" && message.payload.status !== root.dataset.status) {
        location.reload();
      } else if (message.event === "frame" && live) {
        if (idle) { idle.hidden = true; }
        live.frame(message.payload);
      } else if (message.event === "tick" && live) {
        live.tick(message.payload);
      }
    });
    socket.addEventListener("close", function () {
      root.dataset.socketState = "closed";
      setTimeout(connect, RECONNECT_MS);
    });
  }

  if (window.WebSocket) { connect(); }
}());
