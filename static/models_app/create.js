// Create / clone model wizard: shows the settings of the chosen algorithm (the race type's:
// race_type_settings.js), edits fixed object locations and a clone's action values (sent as JSON in hidden fields), and runs the reward editor (Ace,
// served locally) with examples, Reset and Validate (errors as Ace annotations and a list).
// The server validates everything again when the form is submitted.
(function () {
  "use strict";

  var form = document.getElementById("model-wizard");
  if (!form) { return; }
  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var csrfToken = form.elements.csrfmiddlewaretoken.value;
  var textarea = form.elements.reward_code;
  var editor = null;
  var LANES = ["inner", "outer"];

  function checked(name) {
    var input = form.querySelector("input[name='" + name + "']:checked");
    return input ? input.value : "";
  }

  function parseJSON(text, fallback) {
    try { var value = JSON.parse(text); return value === null ? fallback : value; } catch (e) { return fallback; }
  }

  function numberInput(value, label, attrs) {
    var input = document.createElement("input");
    input.type = "number"; input.step = "any"; input.value = value;
    input.setAttribute("aria-label", label);
    Object.keys(attrs || {}).forEach(function (key) { input.setAttribute(key, attrs[key]); });
    return input;
  }

  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (content) {
      var td = document.createElement("td");
      if (content instanceof Node) { td.appendChild(content); } else { td.textContent = content; }
      tr.appendChild(td);
    });
    return tr;
  }

  // -- race type ------------------------------------------------------------------------------------
  var positionsField = form.elements.object_positions;
  var positions = parseJSON(positionsField.value, []);

  function defaultPositions(count) {
    var list = [];
    for (var i = 0; i < count; i++) {
      list.push([Math.round((0.1 + i * 0.8 / count) * 1000) / 1000, LANES[i % 2]]);
    }
    return list;
  }

  function renderPositions() {
    var count = parseInt(form.elements.object_count.value, 10);
    if (!(count >= 1 && count <= 6)) { return; }
    if (!Array.isArray(positions) || positions.length !== count) { positions = defaultPositions(count); }
    var body = document.querySelector("#object-positions tbody");
    body.textContent = "";
    positions.forEach(function (position, index) {
      var fraction = numberInput(position[0], "Object " + (index + 1) + " location", { min: "0.07", max: "0.9" });
      fraction.addEventListener("input", function () { position[0] = parseFloat(fraction.value); syncPositions(); });
      var lane = document.createElement("select");
      lane.setAttribute("aria-label", "Object " + (index + 1) + " lane");
      LANES.forEach(function (name) { lane.add(new Option(name === "inner" ? "Inner lane" : "Outer lane", name)); });
      lane.value = position[1];
      lane.addEventListener("change", function () { position[1] = lane.value; syncPositions(); });
      body.appendChild(row([String(index + 1), fraction, lane]));
    });
    syncPositions();
  }

  function syncPositions() { positionsField.value = JSON.stringify(positions); }

  function currentRaceType() {
    var kind = checked("race_type");
    if (kind === "OBJECT_AVOIDANCE") {
      var race = { race_type: kind, object_count: parseInt(form.elements.object_count.value, 10),
                   randomize_objects: checked("object_placement") !== "fixed" };
      if (!race.randomize_objects) { race.object_positions = positions; }
      return race;
    }
    if (kind === "HEAD_TO_BOT") {
      return { race_type: kind, bot_count: parseInt(form.elements.bot_count.value, 10),
               bot_speed: parseFloat(form.elements.bot_speed.value), bot_lane_changes: form.elements.bot_lane_changes.checked };
    }
    return { race_type: "TIME_TRIAL" };
  }

  // -- algorithm and vehicle ---------------------------------------------------------------------------
  function showSections() {
    var race = checked("race_type");
    var placement = checked("object_placement") || "random";
    var algorithm = checked("training_algorithm");
    form.querySelectorAll("[data-show-algorithm]").forEach(function (el) { el.hidden = el.dataset.showAlgorithm !== algorithm; });
    form.elements.num_episodes_between_training.disabled = algorithm === "sac";
    // SAC drives continuous vehicles only: say so before the server has to.
    var vehicle = form.querySelector("input[name='vehicle']:checked");
    var cloneTable = document.getElementById("clone-actions");
    var discrete = vehicle ? vehicle.closest(".vehicle-choice").dataset.continuous !== "true"
                           : Boolean(cloneTable && cloneTable.dataset.spaceType === "discrete");
    var sacNote = document.getElementById("sac-note");
    if (sacNote) { sacNote.hidden = !(discrete && algorithm === "sac"); }
    if (race === "OBJECT_AVOIDANCE" && placement === "fixed") { renderPositions(); }
  }

  // -- a clone's action values -------------------------------------------------------------------------
  function setupCloneActions() {
    var table = document.getElementById("clone-actions");
    if (!table) { return; }
    var field = form.elements.action_space;
    var space = parseJSON(field.value, null);
    var head = table.querySelector("thead");
    var body = table.querySelector("tbody");
    function sync() { field.value = JSON.stringify(space); }
    if (table.dataset.spaceType === "continuous") {
      head.appendChild(row(["Range", "Low", "High"]));
      [["speed", "Speed (m/s)"], ["steering_angle", "Steering angle (°)"]].forEach(function (pair) {
        var low = numberInput(space[pair[0]].low, pair[1] + " low");
        var high = numberInput(space[pair[0]].high, pair[1] + " high");
        low.addEventListener("input", function () { space[pair[0]].low = parseFloat(low.value); sync(); });
        high.addEventListener("input", function () { space[pair[0]].high = parseFloat(high.value); sync(); });
        body.appendChild(row([pair[1], low, high]));
      });
      return;
    }
    head.appendChild(row(["Action", "Steering angle (°)", "Speed (m/s)"]));
    space.forEach(function (action, index) {
      var steering = numberInput(action.steering_angle, "Action " + index + " steering angle", { min: "-30", max: "30" });
      var speed = numberInput(action.speed, "Action " + index + " speed", { min: "0.1", max: "4" });
      steering.addEventListener("input", function () { action.steering_angle = parseFloat(steering.value); sync(); });
      speed.addEventListener("input", function () { action.speed = parseFloat(speed.value); sync(); });
      body.appendChild(row([String(index), steering, speed]));
    });
  }

  // -- reward editor -------------------------------------------------------------------------------------
  var statusLine = document.getElementById("validation-status");
  var errorList = document.getElementById("validation-errors");

  function code() { return editor ? editor.getValue() : textarea.value; }

  function setCode(text) {
    if (editor) { editor.setValue(text, -1); } else { textarea.value = text; }
    showErrors([]);
    statusLine.textContent = "";
  }

  function setupEditor() {
    if (!window.ace) { return; }
    window.ace.config.set("basePath", config.ace_base);
    var holder = document.getElementById("reward-editor");
    holder.hidden = false;
    textarea.hidden = true;
    editor = window.ace.edit(holder, { mode: "ace/mode/python", tabSize: 4, useSoftTabs: true, fontSize: "14px",
                                       minLines: 18, maxLines: 40, showPrintMargin: false });
    // Ace's default line height clips underscores with some monospace fonts: give the lines room.
    editor.container.style.lineHeight = "1.45";
    editor.renderer.updateFontSize();
    editor.setValue(textarea.value, -1);
    editor.session.on("change", function () { textarea.value = editor.getValue(); });
    window.rewardEditor = editor;  // for browser tests and the curious
    var serverErrors = Array.prototype.map.call(errorList.querySelectorAll("li"), function (item) {
      var match = /^Line (\d+): /.exec(item.textContent);
      return match ? { row: parseInt(match[1], 10) - 1, column: 0, text: item.textContent, type: "error" } : null;
    }).filter(Boolean);
    editor.session.setAnnotations(serverErrors);
  }

  function showErrors(errors, warnings) {
    errorList.textContent = "";
    errors.forEach(function (error) {
      var item = document.createElement("li");
      item.dataset.line = error.line || "";
      item.textContent = (error.line ? "Line " + error.line + ": " : "") + error.message + " (" + error.type + ")";
      if (error.line && editor) {
        item.classList.add("jump");
        item.addEventListener("click", function () { editor.gotoLine(error.line, 0, true); editor.focus(); });
      }
      errorList.appendChild(item);
    });
    if (editor) {
      var annotations = [];
      [[errors, "error"], [warnings || [], "warning"]].forEach(function (pair) {
        pair[0].filter(function (e) { return e.line; }).forEach(function (e) {
          annotations.push({ row: e.line - 1, column: 0, text: e.message, type: pair[1] });
        });
      });
      editor.session.setAnnotations(annotations);
    }
  }

  function trackReversed() {
    var track = form.querySelector("input[name='track']:checked");
    var native = track ? track.closest(".track-card").dataset.direction : "counterclockwise";
    return checked("direction") !== native;
  }

  function validate() {
    statusLine.textContent = "Validating…";
    statusLine.className = "validation-status";
    var track = checked("track");
    fetch(config.validate_url + "?warnings=1", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({ code: code(), track: track, track_reversed: trackReversed(), race_type: currentRaceType() })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, status: response.status, body: body }; });
    }).then(function (result) {
      if (result.ok) {
        var errors = result.body.errors;
        showErrors(errors, result.body.warnings);
        statusLine.textContent = errors.length ? errors.length + " error(s): see below." : "Your reward function passed validation.";
        statusLine.classList.add(errors.length ? "failed" : "passed");
      } else {
        showErrors([]);
        statusLine.textContent = result.body.detail || JSON.stringify(result.body);
        statusLine.classList.add("failed");
      }
    }).catch(function () {
      statusLine.textContent = "Validation could not reach the console: try again.";
      statusLine.classList.add("failed");
    });
  }

  // -- reward preview and racing line --------------------------------------------------------------------
  var previewStatus = document.getElementById("preview-status");

  function numberOf(id) { return parseFloat(document.getElementById(id).value); }

  function outlineTraces(track) {
    function line(points, fill, colour) {
      return { x: points.x, y: points.y, mode: "lines", hoverinfo: "skip", showlegend: false,
               line: { color: colour || "#545b64", width: 2 }, fill: fill ? "toself" : "none", fillcolor: fill };
    }
    return [line(track.outer, "rgba(84,91,100,.12)"), line(track.inner, "#ffffff"), line(track.centre, null, "#aab7b8")];
  }

  function drawPreview(body) {
    var racing = body.racing_line;
    var traces = outlineTraces(body.track).concat([
      { x: body.x, y: body.y, mode: "markers", name: "Reward", text: body.reward,
        marker: { size: 6, color: body.reward, colorscale: "Viridis", colorbar: { title: { text: "reward" } } },
        hovertemplate: "reward %{text}<extra></extra>" },
      { x: racing.points.map(function (p) { return p[0]; }), y: racing.points.map(function (p) { return p[1]; }),
        mode: "lines", name: "Racing line", line: { color: "#ff9900", dash: "dash", width: 2 } }
    ]);
    var plot = document.getElementById("reward-preview");
    window.Plotly.react(plot, traces, {
      margin: { l: 10, r: 10, t: 10, b: 10 }, xaxis: { visible: false }, yaxis: { visible: false, scaleanchor: "x" },
      showlegend: false, plot_bgcolor: "#fff"
    }, { responsive: true, displaylogo: false });
    plot.dataset.points = String(body.points);
  }

  function previewRewards() {
    document.getElementById("reward-preview-panel").open = true;
    previewStatus.textContent = "Computing the preview…";
    previewStatus.className = "validation-status";
    fetch(config.preview_url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({ code: code(), track: checked("track"), track_reversed: trackReversed(),
                             race_type: currentRaceType(), heading_offset: numberOf("preview-heading"),
                             speed: numberOf("preview-speed"), steering_angle: numberOf("preview-steering") })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (result.ok) {
        showErrors([]);
        drawPreview(result.body);
        previewStatus.textContent = result.body.points + " points previewed.";
        previewStatus.classList.add("passed");
      } else if (result.body.code && result.body.code[0] && result.body.code[0].message) {
        showErrors(result.body.code);
        previewStatus.textContent = "The preview failed: see below.";
        previewStatus.classList.add("failed");
      } else {
        previewStatus.textContent = result.body.detail || JSON.stringify(result.body);
        previewStatus.classList.add("failed");
      }
    }).catch(function () {
      previewStatus.textContent = "The preview could not reach the console: try again.";
      previewStatus.classList.add("failed");
    });
  }

  // The server writes the RACING_LINE lines (simulator/reward/examples.py), as it does for the analysis page.
  function insertRacingLine() {
    var url = config.racing_line_url + "?track=" + encodeURIComponent(checked("track") || "") +
      "&track_reversed=" + (trackReversed() ? "true" : "false");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (!body.code) { statusLine.textContent = JSON.stringify(body); return; }
        if (editor) { editor.session.insert({ row: 0, column: 0 }, body.code); } else { textarea.value = body.code + textarea.value; }
        statusLine.textContent = "Racing line inserted as RACING_LINE at the top.";
      });
  }

  function setupRewardButtons() {
    document.getElementById("preview-code").addEventListener("click", previewRewards);
    document.getElementById("insert-racing-line").addEventListener("click", insertRacingLine);
    var examples = {};
    config.examples.forEach(function (example) { examples[example.slug] = example; });
    document.getElementById("insert-example").addEventListener("click", function () {
      var example = examples[document.getElementById("example-picker").value];
      if (!example) { return; }
      setCode(example.code);
      if (example.racing_line) { insertRacingLine(); }  // it reads RACING_LINE: the chosen track's
    });
    document.getElementById("reset-code").addEventListener("click", function () { setCode(config.default_code); });
    document.getElementById("validate-code").addEventListener("click", validate);
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "object_count") { positions = null; }
    if (event.target.closest("#object-positions, #clone-actions")) { return; }
    showSections();
  });
  form.addEventListener("submit", function () {
    if (editor) { textarea.value = editor.getValue(); }
    form.elements.num_episodes_between_training.disabled = false;
  });

  setupCloneActions();
  setupRewardButtons();
  showSections();
  setupEditor();
})();
