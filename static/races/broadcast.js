// Race day's broadcast (and the projector link): the run on track from its evaluation's frames and ticks
// (the chase view with its top-down inset, lap, sim clock, sectors: the server times and colours them,
// races.timing.LiveSectors), or a head-to-model heat from its job's (both cars, both names, the gap:
// heat_live.js); the board and the queue from the race-day state, re-read whenever the race's live socket
// says something changed.
(function () {
  "use strict";

  var root = document.getElementById("broadcast");
  if (!root) { return; }
  var RECONNECT_MS = 2000;
  var frame = root.querySelector(".chase");
  var overlay = root.querySelector("[data-overlay]");
  var idle = root.querySelector("[data-idle]");
  var winner = root.querySelector("[data-winner]");
  var heatMode = root.querySelector("[data-heat-mode]");
  var heat = window.HeatLive.attach(heatMode.querySelector("[data-heat-stage]"), root);
  var lastHeat = root.querySelector("[data-last-heat]");
  var state = null;
  var highlight = null;
  var laps = [];   // this run's trial records (the evaluation's "episode" events)

  function field(name) { return root.querySelector('[data-field="' + name + '"]'); }

  function seconds(value) {
    if (value === null || value === undefined) { return "–"; }
    var minutes = Math.floor(value / 60), rest = value - minutes * 60;
    return String(minutes).padStart(2, "0") + ":" + rest.toFixed(3).padStart(6, "0");
  }

  function text(element, value) { if (element) { element.textContent = value; } }

  // -- the state: board, queue, the run on track, the winner -----------------------------------------
  function loadState() {
    fetch(root.dataset.stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { showState(data); } });
  }

  function currentKey(data) {
    return data && data.current ? data.current.kind + ":" + (data.current.submission || data.current.heat) : null;
  }

  function showState(data) {
    var previous = currentKey(state);
    state = data;
    var current = data.current;
    var isHeat = !!current && current.kind === "heat";
    var run = isHeat ? null : current;
    if (currentKey(data) !== previous) {
      laps = run ? run.laps.slice() : [];
      showSectors([]);
      heat.reset();
    }
    overlay.hidden = !run;
    heatMode.hidden = !isHeat;
    idle.hidden = !!current;
    if (!run) { frame.hidden = true; }
    if (isHeat) {
      text(field("heat-name"), current.name);
      heat.setCars(current.cars.map(function (car) { return car.racer; }), current.laps);
    }
    lastHeat.hidden = !data.last_heat;
    if (data.last_heat) {
      text(field("last-heat"), data.last_heat.name + ": " + (data.last_heat.winner ? data.last_heat.winner + " wins"
        : data.last_heat.racers.join(" vs ") + ", a draw"));
    }
    if (run) {
      text(field("racer"), run.racer);
      text(field("model"), run.model);
      showLaps();
    }
    var rows = root.querySelector("[data-board]");
    rows.innerHTML = "";
    data.board.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.dataset.entry = String(row.submission);
      if (row.submission === highlight) { tr.className = "new"; }
      [row.rank, row.racer, row.time || (row.laps + " laps"), row.gap].forEach(function (value) {
        var td = document.createElement("td"); td.textContent = value; tr.appendChild(td);
      });
      rows.appendChild(tr);
    });
    if (!data.board.length) {
      var empty = document.createElement("tr"), cell = document.createElement("td");
      cell.colSpan = 4; cell.textContent = "No runs finished yet"; empty.appendChild(cell); rows.appendChild(empty);
    }
    var next = root.querySelector("[data-next]");
    next.innerHTML = "";
    data.queue.slice(0, 5).forEach(function (entry) {
      var li = document.createElement("li"); li.textContent = entry.racer + " · " + entry.model; next.appendChild(li);
    });
    winner.hidden = !data.winner;
    if (data.winner) {
      text(field("winner"), data.winner.racer);
      text(field("winner-time"), data.winner.model + " · " + data.winner.time);
    }
  }

  function showLaps() {
    var complete = laps.filter(function (record) { return record.status === "lap_complete"; });
    var last = laps.length ? laps[laps.length - 1] : null;
    var best = complete.length ? Math.min.apply(null, complete.map(function (r) { return r.time_seconds; })) : null;
    text(field("last"), last ? last.time : "–");
    text(field("best"), best === null ? "–" : seconds(best));
    var leader = state && state.leader_ms;
    if (best === null || leader === null || leader === undefined) { text(field("gap"), "–"); }
    else {
      var gap = Math.round(best * 1000) - leader;
      text(field("gap"), gap <= 0 ? "Leader" : "+" + (gap / 1000).toFixed(3));
    }
  }

  // -- ticks: lap, clock, sectors (as the server timed and coloured them) ---------------------------
  function showSectors(sectors) {
    root.querySelectorAll("[data-sector]").forEach(function (li, index) {
      var sector = sectors[index] || {};
      var time = sector.time === null || sector.time === undefined ? "–" : sector.time.toFixed(3);
      li.textContent = "S" + (index + 1) + " " + time;
      li.className = sector.colour || "";
    });
  }

  function onTick(tick) {
    if (tick.cars) { heat.tick(tick); return; }  // a heat's tick: both cars
    root.dataset.ticks = String(Number(root.dataset.ticks) + 1);
    showSectors(tick.sectors || []);
    text(field("lap"), tick.episode + " / " + (state ? state.max_laps : "?"));
    text(field("clock"), seconds(tick.sim_time));
    text(field("resets"), tick.reset_count + " / " + (state ? state.max_resets : "?"));
  }

  function onFrame(payload) {
    if ("car" in payload) { heat.frame(payload); return; }  // a heat's frame: one car's, or the top view
    if (payload.view !== "chase") { return; }
    frame.src = "data:image/jpeg;base64," + payload.jpeg;
    frame.hidden = false;
    root.dataset.frames = String(Number(root.dataset.frames) + 1);
  }

  var handlers = {
    frame: onFrame,
    tick: onTick,
    episode: function (record) {
      laps = laps.filter(function (r) { return r.trial !== record.trial; }).concat([record]);
      showLaps();
    },
    run_finished: function (payload) { highlight = payload.submission || null; loadState(); },
    queue: loadState, finished: loadState, board: loadState, status: function () {}
  };

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + root.dataset.socket);
    socket.addEventListener("open", function () { root.dataset.socketState = "open"; loadState(); });
    socket.addEventListener("message", function (event) {
      var message = JSON.parse(event.data);
      var handler = handlers[message.event];
      if (handler) { handler(message.payload); }
    });
    socket.addEventListener("close", function () {
      root.dataset.socketState = "closed";
      setTimeout(connect, RECONNECT_MS);
    });
  }

  loadState();
  if (window.WebSocket) { connect(); }
}());
