// A race page: how long until it opens or closes, the leaderboard refreshed live when an entry lands (the
// race's websocket says something changed; the server renders the board again, ranks and all), Watch
// replays in a dialog, and the organiser's Copy link.
(function () {
  "use strict";

  var root = document.getElementById("race-page");
  if (!root) { return; }
  var board = document.getElementById("race-board");
  var countdown = root.querySelector("[data-countdown]");
  var opens = new Date(root.dataset.opens);
  var closes = new Date(root.dataset.closes);
  var RECONNECT_MS = 2000;
  var RECONNECT_MAX_MS = 60000;
  var reconnectDelay = RECONNECT_MS;
  var refreshing = null;

  function span(milliseconds) {
    var minutes = Math.max(0, Math.floor(milliseconds / 60000));
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), rest = minutes % 60;
    if (days) { return days + " d " + hours + " h"; }
    if (hours) { return hours + " h " + rest + " min"; }
    if (minutes) { return rest + " min"; }
    return Math.max(0, Math.ceil(milliseconds / 1000)) + " s";
  }

  function tick() {
    var now = new Date();
    if (now < opens) { countdown.textContent = "· opens in " + span(opens - now); }
    else if (now < closes) { countdown.textContent = "· " + span(closes - now) + " left"; }
    else { countdown.textContent = "· closed"; }
  }

  // Your own running submissions: their evaluation's socket says when a worker picks one up or it ends,
  // so the status and the place in the queue follow without waiting for the board's next change.
  var evaluationSockets = {};

  function followOwnEvaluations() {
    var wanted = {};
    board.querySelectorAll("[data-evaluation-socket]").forEach(function (row) { wanted[row.dataset.evaluationSocket] = true; });
    Object.keys(evaluationSockets).forEach(function (path) {
      if (!wanted[path]) { evaluationSockets[path].close(); delete evaluationSockets[path]; }
    });
    Object.keys(wanted).forEach(function (path) {
      if (evaluationSockets[path] || !window.WebSocket) { return; }
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + path);
      socket.addEventListener("message", function (event) {
        if (JSON.parse(event.data).event === "status") { refreshBoard(); }
      });
      socket.addEventListener("close", function () {
        if (evaluationSockets[path] === socket) { delete evaluationSockets[path]; }
      });
      evaluationSockets[path] = socket;
    });
  }

  function refreshBoard() {
    // One fetch at a time; an event during a fetch asks for one more afterwards.
    if (refreshing) { refreshing.again = true; return; }
    refreshing = { again: false };
    fetch(root.dataset.boardUrl + location.search, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 404) { location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== undefined) {
          board.innerHTML = html;
          window.raceTimes.localize(board);
          followOwnEvaluations();
          root.dataset.refreshes = String(Number(root.dataset.refreshes || 0) + 1);
        }
      })
      .catch(function () { /* the next event or reconnect refreshes again */ })
      .then(function () {
        var again = refreshing.again;
        refreshing = null;
        if (again) { refreshBoard(); }
      });
  }

  function connect() {
    if (!window.WebSocket) { return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + root.dataset.socket);
    root.liveSocket = socket;
    socket.addEventListener("open", function () {
      root.dataset.socketState = "open";
      reconnectDelay = RECONNECT_MS;
      refreshBoard();  // whatever landed while the socket was down
    });
    socket.addEventListener("message", function (event) {
      var data = JSON.parse(event.data);
      if (data.event === "deleted") { location.reload(); return; }
      if (data.event === "closed" || data.event === "race") { location.reload(); return; }
      refreshBoard();
    });
    socket.addEventListener("close", function (event) {
      root.dataset.socketState = "closed";
      if (event.code === 4401) { return; }  // refused: not (or no longer) allowed to see this race
      // A refused handshake looks like a dropped connection (1006): back off instead of hammering.
      setTimeout(connect, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
    });
  }

  function setupWatch() {
    var dialog = document.getElementById("watch-dialog");
    var player = dialog.querySelector("video");
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-watch]");
      if (!button) { return; }
      dialog.querySelector("[data-watch-title]").textContent = button.dataset.title;
      player.src = button.dataset.watch;
      dialog.showModal();
      player.play().catch(function () { /* autoplay refused: the controls are there */ });
    });
    dialog.addEventListener("close", function () { player.pause(); });
  }

  function setupCopy() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var input = document.querySelector(button.dataset.copy);
        input.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  tick();
  setInterval(tick, 1000);
  followOwnEvaluations();
  setupWatch();
  setupCopy();
  connect();
})();
