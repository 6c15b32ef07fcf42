// The facilitator's control page: drag a queued run or heat to reorder (the new order is posted, then the page is
// read again), and the page follows race day: when the live socket says the queue or the run changed,
// it reloads (the server renders the queue and the buttons).
(function () {
  "use strict";

  var root = document.getElementById("race-control");
  if (!root) { return; }
  var list = root.querySelector(".live-queue");
  var dragged = null;

  function csrf() {
    var input = root.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  if (list) {
    list.addEventListener("dragstart", function (event) { dragged = event.target.closest("li"); });
    list.addEventListener("dragover", function (event) {
      var over = event.target.closest("li");
      event.preventDefault();
      if (!dragged || !over || over === dragged) { return; }
      var after = event.clientY > over.getBoundingClientRect().top + over.offsetHeight / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });
    list.addEventListener("drop", function (event) {
      event.preventDefault();
      var order = Array.prototype.map.call(list.querySelectorAll("li"), function (li) { return li.dataset.key; });
      var body = new URLSearchParams({ order: order.join(",") });
      fetch(root.dataset.reorderUrl, { method: "POST", body: body, credentials: "same-origin",
                                        headers: { "X-CSRFToken": csrf(), Accept: "application/json" } })
        .then(function () { location.reload(); });
    });
  }

  var reloading = null;
  function reloadSoon() { if (!reloading) { reloading = setTimeout(function () { location.reload(); }, 300); } }

  if (window.WebSocket) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + root.dataset.socket);
    socket.addEventListener("message", function (event) {
      var name = JSON.parse(event.data).event;
      if (name === "queue" || name === "run_finished" || name === "finished" || name === "status") { reloadSoon(); }
    });
  }
}());
