// Build / mod vehicle: shows the fields of the chosen action space, a LIVE table of the simple form's
// actions (the same maths as garage/action_space.py; the server recomputes and checks everything), and the
// advanced per-action editor, whose rows are sent as JSON in the hidden `actions` field.
(function () {
  "use strict";

  var form = document.getElementById("vehicle-form");
  if (!form) { return; }
  var limits = JSON.parse(document.getElementById("vehicle-limits").textContent);
  var tableBody = document.querySelector("#action-table tbody");
  var countLabel = document.getElementById("action-count");
  var previewError = document.getElementById("actions-preview-error");
  var hiddenActions = form.elements.actions;
  var advancedRows = [];

  function roundValue(value) { return Math.floor(value * 100 + 0.5) / 100; }

  function checked(name) {
    var input = form.querySelector("input[name='" + name + "']:checked");
    return input ? input.value : "";
  }

  // garage/action_space.py simple_actions(): steering on [-max, +max] (outer loop), speeds on [max/M, max].
  function simpleActions() {
    var maxSteering = parseFloat(form.elements.max_steering.value);
    var maxSpeed = parseFloat(form.elements.max_speed.value);
    var steeringCount = parseInt(form.elements.steering_granularity.value, 10);
    var speedCount = parseInt(form.elements.speed_granularity.value, 10);
    if (!(maxSteering >= limits.min_max_steering && maxSteering <= limits.steering_limit)) {
      return { error: "Maximum steering angle: enter a value from " + limits.min_max_steering + " to " + limits.steering_limit + "°." };
    }
    if (!(maxSpeed >= limits.min_speed && maxSpeed <= limits.max_speed)) {
      return { error: "Maximum speed: enter a value from " + limits.min_speed + " to " + limits.max_speed + " m/s." };
    }
    if (roundValue(maxSpeed / speedCount) < limits.min_speed) {
      return { error: "With " + speedCount + " speeds the maximum speed must be at least " + roundValue(limits.min_speed * speedCount) + " m/s." };
    }
    var actions = [];
    for (var i = 0; i < steeringCount; i++) {
      var angle = roundValue(-maxSteering + 2 * maxSteering * i / (steeringCount - 1));
      for (var j = 0; j < speedCount; j++) {
        actions.push({ steering_angle: angle, speed: roundValue(maxSpeed * (j + 1) / speedCount) });
      }
    }
    return { actions: actions };
  }

  function cell(content) {
    var td = document.createElement("td");
    if (typeof content === "string" || typeof content === "number") { td.textContent = content; } else { td.appendChild(content); }
    return td;
  }

  function numberInput(value, label, min, max, step) {
    var input = document.createElement("input");
    input.type = "number"; input.value = value; input.min = min; input.max = max; input.step = step;
    input.setAttribute("aria-label", label);
    return input;
  }

  function renderSimple() {
    var result = simpleActions();
    tableBody.textContent = "";
    previewError.hidden = !result.error;
    previewError.textContent = result.error || "";
    if (result.error) { countLabel.textContent = ""; return; }
    result.actions.forEach(function (action, index) {
      var row = document.createElement("tr");
      var remove = cell("");
      remove.className = "advanced-only";  // hidden with its header: a bare cell would widen the rows
      row.append(cell(index), cell(action.steering_angle), cell(action.speed), remove);
      tableBody.appendChild(row);
    });
    countLabel.textContent = "(" + result.actions.length + ")";
  }

  function advancedProblem(action) {
    if (!(Math.abs(action.steering_angle) <= limits.steering_limit)) { return "steering angle from -30 to 30°"; }
    if (!(action.speed >= limits.min_speed && action.speed <= limits.max_speed)) { return "speed from 0.1 to 4 m/s"; }
    return "";
  }

  function syncAdvanced() {
    hiddenActions.value = JSON.stringify(advancedRows.map(function (a) {
      return { steering_angle: a.steering_angle, speed: a.speed };
    }));
    var problems = [];
    advancedRows.forEach(function (action, index) {
      var problem = advancedProblem(action);
      if (problem) { problems.push("Action " + index + ": " + problem + "."); }
    });
    if (advancedRows.length < limits.min_actions || advancedRows.length > limits.max_actions) {
      problems.unshift("Use " + limits.min_actions + " to " + limits.max_actions + " actions.");
    }
    previewError.hidden = problems.length === 0;
    previewError.textContent = problems.join(" ");
    countLabel.textContent = "(" + advancedRows.length + ")";
    document.getElementById("add-action").disabled = advancedRows.length >= limits.max_actions;
  }

  function renderAdvanced() {
    tableBody.textContent = "";
    advancedRows.forEach(function (action, index) {
      var row = document.createElement("tr");
      var steering = numberInput(action.steering_angle, "Action " + index + " steering angle", -limits.steering_limit, limits.steering_limit, "any");
      var speed = numberInput(action.speed, "Action " + index + " speed", limits.min_speed, limits.max_speed, "any");
      steering.addEventListener("input", function () { action.steering_angle = parseFloat(steering.value); syncAdvanced(); });
      speed.addEventListener("input", function () { action.speed = parseFloat(speed.value); syncAdvanced(); });
      var remove = document.createElement("button");
      remove.type = "button"; remove.className = "button small"; remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove action " + index);
      remove.disabled = advancedRows.length <= limits.min_actions;
      remove.addEventListener("click", function () { advancedRows.splice(index, 1); renderAdvanced(); });
      row.append(cell(index), cell(steering), cell(speed), cell(remove));
      tableBody.appendChild(row);
    });
    syncAdvanced();
  }

  function loadAdvancedRows() {
    try { advancedRows = JSON.parse(hiddenActions.value || "[]"); } catch (e) { advancedRows = []; }
    if (!Array.isArray(advancedRows) || advancedRows.length === 0) { advancedRows = simpleActions().actions || []; }
  }

  function showSections() {
    var type = checked("action_space_type");
    var mode = checked("discrete_mode") || "simple";
    form.querySelectorAll("[data-show-for]").forEach(function (el) { el.hidden = el.dataset.showFor !== type; });
    form.querySelectorAll("[data-show-mode]").forEach(function (el) { el.hidden = el.dataset.showMode !== mode; });
    form.classList.toggle("advanced", mode === "advanced");
    if (type !== "discrete") { return; }
    if (mode === "advanced") { renderAdvanced(); } else { renderSimple(); }
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "discrete_mode" && event.target.value === "advanced") {
      // Start the advanced editor from the grid the simple form shows.
      advancedRows = simpleActions().actions || advancedRows;
    }
    if (event.target.closest("#action-table")) { return; }
    showSections();
  });
  form.addEventListener("input", function (event) {
    if (checked("discrete_mode") !== "advanced" && ["max_steering", "max_speed"].indexOf(event.target.name) >= 0) {
      renderSimple();
    }
  });
  document.getElementById("add-action").addEventListener("click", function () {
    var last = advancedRows[advancedRows.length - 1] || { steering_angle: 0, speed: 1 };
    advancedRows.push({ steering_angle: last.steering_angle, speed: last.speed });
    renderAdvanced();
  });
  form.addEventListener("submit", function () { if (checked("discrete_mode") === "advanced") { syncAdvanced(); } });

  loadAdvancedRows();
  showSections();
})();
