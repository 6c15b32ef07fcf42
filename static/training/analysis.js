// The Analysis tab: figures (Plotly) of the model's sim-traces, from the analysis endpoints of the REST API
// (training/analysis_api.py). While training runs, each iteration's `metrics` event on the job's socket
// refreshes the per-iteration charts and extends the iteration range.
(function () {
  "use strict";

  const root = document.getElementById("analysis-page");
  if (!root) return;

  const summaryUrl = root.dataset.api;
  const config = { responsive: true, displaylogo: false };
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const examples = JSON.parse(document.getElementById("reward-examples").textContent);
  const state = { summary: null, kind: "visits", laps: [], compare: [], episode: null };

  function endpoint(name, params) {
    const url = new URL(summaryUrl.replace(/summary\/$/, `${name}/`), location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
    }
    return url;
  }

  async function getJson(name, params) {
    const response = await fetch(endpoint(name, params), { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail || JSON.stringify(body));
    return body;
  }

  function range() {
    return { first: root.querySelector("[data-range=first]").value, last: root.querySelector("[data-range=last]").value };
  }

  function plot(id, traces, layout) {
    const element = document.getElementById(id);
    window.Plotly.react(element, traces, { margin: { l: 50, r: 60, t: 36, b: 40 }, uirevision: "keep", ...layout }, config);
    element.dataset.drawn = String((Number(element.dataset.drawn) || 0) + 1);
  }

  // ------------------------------------------------------------------------------- the track picture

  function trackTraces() {
    const track = state.summary.track;
    const line = (points, name, style) => ({ x: points.x, y: points.y, mode: "lines", name, hoverinfo: "skip",
                                              showlegend: false, line: style });
    return [
      { ...line(track.outer, "Outer border", { color: "#545b64", width: 2 }), fill: "toself", fillcolor: "rgba(84,91,100,.12)" },
      { ...line(track.inner, "Inner border", { color: "#545b64", width: 2 }), fill: "toself", fillcolor: "#ffffff" },
      line(track.centre, "Centre line", { color: "#aab7b8", width: 1, dash: "dot" }),
    ];
  }

  // The borders again, over a heatmap (which would hide them).
  function borderTraces() {
    const track = state.summary.track;
    return [track.outer, track.inner].map((points) => ({ x: points.x, y: points.y, mode: "lines", hoverinfo: "skip",
                                                         showlegend: false, line: { color: "#545b64", width: 1.5 } }));
  }

  function racingLineTrace() {
    const racing = state.summary.racing_line;
    return { x: racing.points.map((p) => p[0]), y: racing.points.map((p) => p[1]), mode: "lines", name: "Racing line",
             line: { color: "#ff9900", width: 2, dash: "dash" }, text: racing.speeds.map((s) => `${s} m/s`),
             hovertemplate: "Racing line %{text}<extra></extra>" };
  }

  function trackLayout(title) {
    return { title: { text: title, font: { size: 14 } }, showlegend: true, legend: { orientation: "h", y: -0.05 },
             xaxis: { visible: false }, yaxis: { visible: false, scaleanchor: "x" }, margin: { l: 10, r: 10, t: 36, b: 10 },
             plot_bgcolor: "#fff" };
  }

  function heatmapTrace(grid, title, colorscale) {
    return { type: "heatmap", x: grid.x, y: grid.y, z: grid.z, colorscale: colorscale || "Viridis", name: title,
             colorbar: { title: { text: title }, len: 0.8 }, hoverongaps: false,
             hovertemplate: `x %{x} m, y %{y} m<br>${title} %{z}<extra></extra>` };
  }

  // ------------------------------------------------------------------------------------ per iteration

  function drawIterations() {
    const it = state.summary.iterations;
    const x = it.iteration;
    const band = (quintiles, name, color) => [
      { x, y: quintiles.map((q) => q[0]), mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
      { x, y: quintiles.map((q) => q[3]), mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: color, name },
      { x, y: quintiles.map((q) => q[1]), mode: "lines", line: { color, width: 1, dash: "dot" }, name: "40th percentile", showlegend: false },
      { x, y: quintiles.map((q) => q[2]), mode: "lines", line: { color, width: 1, dash: "dot" }, name: "60th percentile", showlegend: false },
    ];
    const axis = { title: { text: "Iteration" }, dtick: Math.max(1, Math.ceil(x.length / 10)) };
    plot("chart-reward", [...band(it.reward_quintiles, "20th–80th percentile", "rgba(46,125,50,.2)"),
      { x, y: it.mean_reward, name: "Mean reward", mode: "lines+markers", line: { color: "#2e7d32" } }],
    { title: { text: "Reward per episode", font: { size: 14 } }, xaxis: axis, legend: { orientation: "h", y: -0.3 } });
    plot("chart-progress", [...band(it.progress_quintiles, "20th–80th percentile", "rgba(21,101,192,.2)"),
      { x, y: it.mean_progress, name: "Mean progress (%)", mode: "lines+markers", line: { color: "#1565c0" } },
      { x, y: it.completion_rate, name: "Completed laps (%)", mode: "lines+markers", line: { color: "#c62828" } }],
    { title: { text: "Progress and completion", font: { size: 14 } }, xaxis: axis, yaxis: { range: [0, 105] },
      legend: { orientation: "h", y: -0.3 } });
    plot("chart-laps", [
      { x, y: it.best_lap_time, name: "Best lap (s)", mode: "lines+markers", line: { color: "#ff9900" } },
      { x, y: it.mean_lap_time, name: "Mean lap (s)", mode: "lines+markers", line: { color: "#545b64" } },
      { x, y: it.steps_per_second, name: "Steps per second", yaxis: "y2", mode: "lines", line: { color: "#8e24aa", dash: "dot" } }],
    { title: { text: "Lap times and speed of simulation", font: { size: 14 } }, xaxis: axis,
      yaxis: { title: { text: "s" } }, yaxis2: { title: { text: "steps/s" }, overlaying: "y", side: "right", showgrid: false },
      legend: { orientation: "h", y: -0.3 } });
    const losses = it.losses;
    const names = Object.keys(losses).filter((name) => name !== "iteration");
    plot("chart-learner", names.map((name) => ({
      x: losses.iteration, y: losses[name], name: name.replace("losses/", ""), mode: "lines+markers",
      yaxis: name === "losses/entropy" ? "y2" : "y",
    })), { title: { text: names.length ? "Learner: losses and entropy" : "Learner: no losses recorded (imported logs)", font: { size: 14 } },
      xaxis: axis, yaxis2: { title: { text: "entropy" }, overlaying: "y", side: "right", showgrid: false },
      legend: { orientation: "h", y: -0.3 } });
  }

  // ------------------------------------------------------------------------------------- track views

  async function drawTrackView() {
    const [grid, exits] = await Promise.all([getJson("heatmap", { ...range(), kind: state.kind }), getJson("exits", range())]);
    const titles = { visits: "Visits", reward: "Mean reward", speed: "Speed (m/s)", steering: "Steering (°)" };
    // Pale for few visits, dark for many: the track picture stays readable under the cells.
    const scales = { visits: [[0, "#fff7bc"], [0.4, "#fe9929"], [1, "#662506"]], reward: "Viridis", speed: "Portland",
                     steering: "RdBu" };
    plot("track-heatmap", [...trackTraces(), heatmapTrace(grid, titles[state.kind], scales[state.kind]), ...borderTraces(),
      racingLineTrace(),
      { x: exits.off_track.x, y: exits.off_track.y, mode: "markers", name: "Off track",
        marker: { symbol: "x", color: "rgba(209,50,18,.7)", size: 5 },
        text: exits.off_track.iteration.map((it, i) => `iteration ${it}, episode ${exits.off_track.episode[i]}, ${exits.off_track.progress[i]}%`),
        hovertemplate: "Off track: %{text}<extra></extra>" },
      { x: exits.crashed.x, y: exits.crashed.y, mode: "markers", name: "Crashed", marker: { symbol: "diamond", color: "#000", size: 8 } },
    ], trackLayout(`${titles[state.kind]}, ${grid.steps.toLocaleString()} steps`));
  }

  // -------------------------------------------------------------------------------------------- laps

  function lapPath(lap, name) {
    return { x: lap.x, y: lap.y, mode: "markers+lines", name, line: { color: "rgba(0,0,0,.15)", width: 1 },
             marker: { size: 5, color: lap.speed, colorscale: "Portland", cmin: 0, colorbar: { title: { text: "m/s" }, len: 0.8 } },
             text: lap.speed.map((s) => `${s} m/s`), hovertemplate: "%{text}<extra></extra>" };
  }

  function lapName(lap) { return `Iteration ${lap.iteration}, episode ${lap.episode}: ${lap.time} s`; }

  async function drawLaps() {
    const result = await getJson("laps", range());
    state.laps = result.laps;
    state.compare = state.laps.slice(0, 2).map((_, index) => index);
    root.querySelector("[data-field=lap-count]").textContent =
      `${result.laps.length} complete lap${result.laps.length === 1 ? "" : "s"} of ${result.total_episodes} episodes`;
    const body = root.querySelector("[data-testid=lap-table] tbody");
    body.replaceChildren(...state.laps.map((lap, index) => {
      const row = document.createElement("tr");
      const cells = [lap.iteration, lap.episode, lap.time, lap.sectors.join(" · ")].map((value) => {
        const cell = document.createElement("td"); cell.textContent = value; return cell;
      });
      const pick = document.createElement("td");
      const box = document.createElement("input");
      box.type = "checkbox"; box.dataset.lap = String(index); box.checked = state.compare.includes(index);
      box.setAttribute("aria-label", `Compare lap ${index + 1}`);
      box.addEventListener("change", () => chooseLap(index, box.checked));
      pick.append(box);
      row.append(pick, ...cells);
      return row;
    }));
    if (!state.laps.length) {
      plot("lap-best", trackTraces(), trackLayout("No complete lap in these iterations"));
    } else {
      plot("lap-best", [...trackTraces(), racingLineTrace(), lapPath(state.laps[0], "Best lap")], trackLayout(`Best lap — ${lapName(state.laps[0])}`));
    }
    drawComparison();
  }

  function chooseLap(index, checked) {
    state.compare = state.compare.filter((i) => i !== index);
    if (checked) state.compare.push(index);
    while (state.compare.length > 2) state.compare.shift();
    root.querySelectorAll("[data-lap]").forEach((box) => { box.checked = state.compare.includes(Number(box.dataset.lap)); });
    drawComparison();
  }

  function drawComparison() {
    const laps = state.compare.map((index) => state.laps[index]);
    ["lap-compare-a", "lap-compare-b"].forEach((id, slot) => {
      const lap = laps[slot];
      plot(id, lap ? [...trackTraces(), lapPath(lap, lapName(lap))] : trackTraces(), trackLayout(lap ? lapName(lap) : "Tick a lap"));
    });
    const table = root.querySelector("[data-testid=sector-compare]");
    if (!laps.length) { table.tHead.replaceChildren(); table.tBodies[0].replaceChildren(); return; }
    const sectors = laps[0].sectors.map((_, i) => `Sector ${i + 1}`);
    const head = document.createElement("tr");
    ["Lap", ...sectors, "Lap time"].forEach((text) => { const th = document.createElement("th"); th.textContent = text; head.append(th); });
    table.tHead.replaceChildren(head);
    table.tBodies[0].replaceChildren(...laps.map((lap) => {
      const row = document.createElement("tr");
      [lapName(lap).split(":")[0], ...lap.sectors.map((s) => (s === null ? "–" : s.toFixed(2))), lap.time].forEach((text, i) => {
        const cell = document.createElement("td"); cell.textContent = text;
        const other = laps.find((l) => l !== lap);
        if (other && i > 0 && i <= sectors.length && lap.sectors[i - 1] !== null && lap.sectors[i - 1] < other.sectors[i - 1]) cell.className = "faster";
        row.append(cell);
      });
      return row;
    }));
  }

  // ------------------------------------------------------------------------------------- evaluations

  async function drawEvaluation() {
    const select = root.querySelector("[data-evaluation]");
    if (!select) return;
    const result = await getJson("evaluation", { evaluation: select.value });
    plot("evaluation-paths", [...trackTraces(), racingLineTrace(), ...result.trials.map((trial) => ({
      x: trial.x, y: trial.y, mode: "lines", name: `Trial ${trial.episode + 1}: ${trial.status.replace("_", " ")}, ${trial.time} s`,
    }))], trackLayout(`${result.trials.length} trials`));
  }

  // ------------------------------------------------------------------------------------------ actions

  async function drawActions() {
    const result = await getJson("actions", range());
    const sections = { straight: "Straights", left: "Left turns", right: "Right turns" };
    if (result.labels) {
      plot("actions-overall", [{ type: "bar", x: result.labels, y: result.overall, marker: { color: "#ff9900" } }],
        { title: { text: "Action usage", font: { size: 14 } }, yaxis: { title: { text: "steps" } } });
      plot("actions-sections", Object.entries(sections).map(([key, name]) => {
        const total = Math.max(1, result.sections[key].reduce((a, b) => a + b, 0));
        return { type: "bar", name, x: result.labels, y: result.sections[key].map((count) => (100 * count) / total) };
      }), { title: { text: "Action usage per track section (% of the section's steps)", font: { size: 14 } }, barmode: "group" });
    } else {
      const centres = (edges) => edges.slice(0, -1).map((edge, i) => (edge + edges[i + 1]) / 2);
      plot("actions-overall", [
        { type: "bar", name: "Speed", x: centres(result.overall.speed.edges), y: result.overall.speed.counts },
      ], { title: { text: "Speeds chosen (m/s)", font: { size: 14 } } });
      plot("actions-sections", Object.entries(sections).map(([key, name]) => ({
        type: "bar", name, x: centres(result.sections[key].steering.edges), y: result.sections[key].steering.counts,
      })), { title: { text: "Steering chosen per track section (°)", font: { size: 14 } }, barmode: "group" });
    }
    const by = result.by_iteration;
    plot("speed-distribution", [{ type: "heatmap", x: by.iteration, y: by.speed.centres, z: transpose(by.speed.percent), colorscale: "Blues",
      colorbar: { title: { text: "%" } } }], { title: { text: "Speed over the iterations (m/s)", font: { size: 14 } }, xaxis: { title: { text: "Iteration" } } });
    plot("steering-distribution", [{ type: "heatmap", x: by.iteration, y: by.steering.centres, z: transpose(by.steering.percent), colorscale: "Blues",
      colorbar: { title: { text: "%" } } }], { title: { text: "Steering over the iterations (°)", font: { size: 14 } }, xaxis: { title: { text: "Iteration" } } });
  }

  function transpose(rows) { return rows.length ? rows[0].map((_, j) => rows.map((row) => row[j])) : []; }

  // ----------------------------------------------------------------------------------- episode player

  function episodeSource() { return root.querySelector("[data-episode-source]").value; }

  async function fillEpisodes() {
    const evaluation = episodeSource();
    const result = await getJson("episodes", evaluation ? { evaluation } : range());
    const select = root.querySelector("[data-episode]");
    const previous = select.value;
    select.replaceChildren(...result.episodes.map((episode) => {
      const option = document.createElement("option");
      option.value = `${episode.iteration}:${episode.episode}`;
      const name = evaluation ? `Trial ${episode.episode + 1}` : `Iteration ${episode.iteration}, episode ${episode.episode}`;
      option.textContent = `${name}: ${episode.status.replace("_", " ")}, ${episode.progress}%, reward ${episode.reward}`;
      return option;
    }));
    if (previous && [...select.options].some((option) => option.value === previous)) select.value = previous;
    if (select.value) await loadEpisode();
  }

  async function loadEpisode() {
    const [iteration, episode] = root.querySelector("[data-episode]").value.split(":");
    state.episode = await getJson("episode", { iteration, episode, evaluation: episodeSource() });
    const scrub = root.querySelector("[data-scrub]");
    scrub.max = String(state.episode.steps.length - 1);
    scrub.value = "0";
    showStep(0);
  }

  function showStep(index) {
    const e = state.episode;
    plot("episode-track", [...trackTraces(),
      { x: e.x, y: e.y, mode: "lines", name: "Path", line: { color: "#1565c0", width: 2 } },
      { x: [e.x[index]], y: [e.y[index]], mode: "markers", name: "Car", marker: { size: 14, color: "#d13212", symbol: "triangle-up",
        angle: 90 - e.heading[index] } }], trackLayout(`Step ${e.steps[index]} of ${e.steps[e.steps.length - 1]}`));
    const names = ["steps", "x", "y", "heading", "speed", "steering_angle", "progress", "reward", "status", "all_wheels_on_track",
      "distance_from_center", "is_left_of_center", "track_width", "closest_waypoint", "action", "measured_speed"];
    root.querySelector("[data-testid=episode-params] tbody").replaceChildren(...names.map((name) => {
      const row = document.createElement("tr");
      const key = document.createElement("th"); key.scope = "row"; key.textContent = name;
      const value = document.createElement("td"); value.textContent = String(e[name][index]); value.dataset.param = name;
      row.append(key, value);
      return row;
    }));
  }

  // ------------------------------------------------------------------------------------------ re-score

  async function rescore() {
    const button = root.querySelector("[data-action=rescore]");
    const errors = root.querySelector("[data-field=rescore-errors]");
    button.disabled = true;
    errors.hidden = true;
    root.querySelector("[data-field=rescore-note]").textContent = "Scoring…";
    try {
      const { first, last } = range();
      const response = await fetch(endpoint("rescore"), {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ code: root.querySelector("[data-rescore-code]").value, first: Number(first), last: Number(last) }),
      });
      const body = await response.json();
      if (!response.ok) {
        const list = body.code || [{ message: body.detail || JSON.stringify(body) }];
        errors.textContent = list.map((e) => (e.line ? `Line ${e.line}: ${e.message}` : e.message)).join("\n");
        errors.hidden = false;
        root.querySelector("[data-field=rescore-note]").textContent = "";
        return;
      }
      const sum = (values) => values.reduce((a, b) => a + (b || 0), 0);
      const episodes = body.episodes;
      root.querySelector("[data-field=rescore-note]").textContent =
        `${body.steps.toLocaleString()} steps of ${episodes.episode.length} episodes scored` +
        (body.truncated ? ` (the first of ${body.total_steps.toLocaleString()}; narrow the iterations for the rest)` : "") +
        `. Mean episode reward: ${(sum(episodes.original) / episodes.original.length).toFixed(2)} recorded, ` +
        `${(sum(episodes.rescored) / episodes.rescored.length).toFixed(2)} re-scored.`;
      plot("rescore-original", [...trackTraces(), heatmapTrace(body.original, "Reward"), ...borderTraces()], trackLayout("Recorded reward"));
      plot("rescore-new", [...trackTraces(), heatmapTrace(body.rescored, "Reward"), ...borderTraces()], trackLayout("Re-scored reward"));
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------------------------------ wiring

  function showError(error) {
    root.querySelector("[data-field=range-note]").textContent = `Could not load the analysis: ${error.message}`;
  }

  async function drawRange() {
    root.querySelector("[data-field=range-note]").textContent = "";
    await Promise.all([drawTrackView(), drawLaps(), drawActions(), fillEpisodes()]).catch(showError);
    root.dataset.loaded = String((Number(root.dataset.loaded) || 0) + 1);
  }

  // While training runs: redraw the per-iteration charts, and when the range showed the newest iteration
  // (or nothing yet), stretch it to the new one and redraw the views below.
  async function refreshSummary(extendRange) {
    const lastInput = root.querySelector("[data-range=last]");
    const before = state.summary ? state.summary.iterations.iteration : [];
    const wasAtEnd = !before.length || Number(lastInput.value) >= Math.max(...before);
    state.summary = await getJson("summary");
    drawIterations();
    const iterations = state.summary.iterations.iteration;
    root.dataset.iterations = String(iterations.length);
    if (extendRange && wasAtEnd && iterations.length > before.length) {
      lastInput.value = String(iterations.at(-1));
      await drawRange();
    }
  }

  root.querySelectorAll("[data-kind]").forEach((button) => button.addEventListener("click", () => {
    state.kind = button.dataset.kind;
    root.querySelectorAll("[data-kind]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    drawTrackView().catch(showError);
  }));
  root.querySelector("[data-action=apply-range]").addEventListener("click", drawRange);
  root.querySelector("[data-episode]").addEventListener("change", () => loadEpisode().catch(showError));
  root.querySelector("[data-episode-source]").addEventListener("change", () => fillEpisodes().catch(showError));
  root.querySelector("[data-scrub]").addEventListener("input", (event) => showStep(Number(event.target.value)));
  root.querySelector("[data-action=rescore]").addEventListener("click", () => rescore().catch(showError));
  root.querySelector("[data-example]").addEventListener("change", (event) => {
    const example = examples.find((e) => e.slug === event.target.value);
    const editor = root.querySelector("[data-rescore-code]");
    editor.value = example ? example.code : editor.defaultValue;
  });
  const evaluation = root.querySelector("[data-evaluation]");
  if (evaluation) evaluation.addEventListener("change", () => drawEvaluation().catch(showError));

  function start() {
    refreshSummary(false).then(() => Promise.all([drawRange(), drawEvaluation()])).catch(showError);
    if (root.dataset.socket && window.liveJob) {
      let finished = false;
      window.liveJob.connect(root, {
        handlers: {
          metrics: () => refreshSummary(true).catch(showError),
          status: (payload) => { finished = window.liveJob.FINISHED.includes(payload.status); },
        },
        onOpen: () => {},
        isFinished: () => finished,
      });
    }
  }

  if (window.Plotly) start(); else window.addEventListener("load", start);
})();
