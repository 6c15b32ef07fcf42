// The training tab: reward graph (Plotly), live video and logs from /ws/training/<job>/.
// History comes from the state endpoint; the socket appends. On every (re)connect the state is fetched
// again and merged by iteration / episode key, so a network blip loses no points and draws none twice.
(function () {
  "use strict";

  const { FINISHED, STATUS_LABELS } = window.liveJob;
  const MAX_LOG_LINES = 500;
  const TRACE = { reward: 0, trainingCompletion: 1, evaluationCompletion: 2, best: 3, episodeReward: 4, episodeCompletion: 5 };

  setUpCopyButtons();
  const root = document.getElementById("training-page");
  if (!root) return;

  const graph = document.getElementById("reward-graph");
  const video = document.getElementById("sim-video");
  const logs = document.getElementById("training-logs");
  const iterations = new Map();
  const episodes = new Map();
  let status = root.dataset.status;
  let view = "chase";
  let showEpisodes = false;
  let clock = { elapsed: null, remaining: null, at: 0 };

  function field(name) { return root.querySelector(`[data-field="${name}"]`); }

  // ------------------------------------------------------------------------------- status banner

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "–";
    seconds = Math.max(0, Math.round(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(s).padStart(2, "0")}`;
  }

  function showStatus(state) {
    if (state.status) {
      status = state.status;
      root.dataset.status = status;
      field("status").textContent = STATUS_LABELS[status] || status;
      root.querySelector(".status-banner").className = `status-banner status-${status.toLowerCase()}`;
    }
    if (state.elapsed_seconds !== undefined) {
      clock = { elapsed: state.elapsed_seconds, remaining: state.remaining_seconds, at: performance.now() };
    }
    if (state.last_iteration !== undefined) field("iteration").textContent = state.last_iteration;
    if (state.phase !== undefined) field("phase").textContent = state.phase === "updating" ? "Updating the policy" : "";
    const failure = field("failure");
    // Status messages come and go: "Stopped by the system" is cleared when the job resumes.
    if (state.failure_reason !== undefined) { failure.textContent = state.failure_reason; failure.hidden = !state.failure_reason; }
    if (FINISHED.includes(status)) {
      field("phase").textContent = state.stop_reason ? `(${stopReason(state.stop_reason)})` : "";
      const placeholder = root.querySelector("[data-video-placeholder]");
      if (placeholder) placeholder.textContent = placeholder.dataset.finishedText;
      const stop = document.querySelector("[data-stop-form]");
      if (stop) stop.remove();
    }
    tick();
  }

  function stopReason(reason) {
    return { stopped: "stopped", max_time: "time limit reached", max_iterations: "iteration limit reached", quota: "monthly compute quota reached", imported: "trained elsewhere, imported" }[reason] || reason;
  }

  function tick() {
    if (clock.elapsed === null) return;
    const running = status === "IN_PROGRESS" || status === "STOPPING";
    const since = running ? (performance.now() - clock.at) / 1000 : 0;
    field("elapsed").textContent = formatDuration(clock.elapsed + since);
    field("remaining").textContent = FINISHED.includes(status) ? "–" : formatDuration(clock.remaining - since);
  }
  setInterval(tick, 1000);

  // ---------------------------------------------------------------------------------- the graph

  function bestIteration() {
    let best = null;
    for (const record of iterations.values()) if (record.best) best = record;
    return best;
  }

  function traces() {
    const sorted = [...iterations.values()].sort((a, b) => a.iteration - b.iteration);
    const points = [...episodes.values()].filter((p) => p.phase === "training");
    const best = bestIteration();
    const x = sorted.map((r) => r.iteration);
    return [
      { name: "Average reward (training)", x, y: sorted.map((r) => r.average_reward), mode: "lines+markers", line: { color: "#2e7d32" } },
      { name: "Average percentage completion (training)", x, y: sorted.map((r) => r.average_training_completion), yaxis: "y2", mode: "lines+markers", line: { color: "#1565c0" } },
      { name: "Average percentage completion (evaluation)", x, y: sorted.map((r) => r.average_evaluation_completion), yaxis: "y2", mode: "lines+markers", line: { color: "#c62828" } },
      { name: "Best model", x: best ? [best.iteration] : [], y: best ? [best.average_evaluation_completion] : [], yaxis: "y2", mode: "markers", marker: { symbol: "star", size: 16, color: "#ff9900", line: { color: "#232f3e", width: 1 } } },
      { name: "Reward (episodes)", x: points.map((p) => p.iteration), y: points.map((p) => p.reward), mode: "markers", marker: { size: 4, color: "rgba(46,125,50,.35)" }, visible: showEpisodes },
      { name: "Completion % (episodes)", x: points.map((p) => p.iteration), y: points.map((p) => p.progress), yaxis: "y2", mode: "markers", marker: { size: 4, color: "rgba(21,101,192,.35)" }, visible: showEpisodes },
    ];
  }

  const layout = {
    margin: { l: 50, r: 50, t: 10, b: 40 },
    // Iterations are whole numbers: ticks 1 apart, or about ten ticks once there are many.
    xaxis: { title: { text: "Iteration" }, rangemode: "tozero", tick0: 0, dtick: 1 },
    yaxis: { title: { text: "Reward" } },
    // Its own round ticks (0, 20, ... 100): an overlaying axis otherwise copies the reward axis's gridlines.
    yaxis2: { title: { text: "Completion (%)" }, overlaying: "y", side: "right", range: [0, 105],
              tickmode: "linear", tick0: 0, dtick: 20, showgrid: false },
    legend: { orientation: "h", y: -0.25 },
    uirevision: "keep",
  };

  function redraw() {
    const last = Math.max(0, ...iterations.keys());
    layout.xaxis.dtick = Math.max(1, Math.ceil(last / 10));
    window.Plotly.react(graph, traces(), layout, { responsive: true, displaylogo: false });
    countPoints();
  }

  function countPoints() {
    graph.dataset.points = String(iterations.size + episodes.size);
    graph.dataset.iterations = String(iterations.size);
  }

  function addIteration(record) {
    const known = iterations.has(record.iteration);
    iterations.set(record.iteration, record);
    if (known || record.best) { redraw(); return; }
    window.Plotly.extendTraces(graph, {
      x: [[record.iteration], [record.iteration], [record.iteration]],
      y: [[record.average_reward], [record.average_training_completion], [record.average_evaluation_completion]],
    }, [TRACE.reward, TRACE.trainingCompletion, TRACE.evaluationCompletion]);
    countPoints();
  }

  function addEpisode(point) {
    const key = `${point.phase}:${point.iteration}:${point.episode}`;
    if (episodes.has(key)) return;
    episodes.set(key, point);
    if (point.phase === "training") {
      window.Plotly.extendTraces(graph, { x: [[point.iteration], [point.iteration]], y: [[point.reward], [point.progress]] },
        [TRACE.episodeReward, TRACE.episodeCompletion]);
    }
    countPoints();
  }

  document.querySelector("[data-episodes-toggle]").addEventListener("change", (event) => {
    showEpisodes = event.target.checked;
    window.Plotly.restyle(graph, { visible: showEpisodes }, [TRACE.episodeReward, TRACE.episodeCompletion]);
  });

  // ---------------------------------------------------------------------------------- video, logs

  function showFrame(payload) {
    if (payload.view !== view) return;
    video.src = `data:image/jpeg;base64,${payload.jpeg}`;
    video.hidden = false;
    video.dataset.frames = String(Number(video.dataset.frames) + 1);
    const placeholder = root.querySelector("[data-video-placeholder]");
    if (placeholder) placeholder.remove();
  }

  root.querySelectorAll("[data-view]").forEach((button) => {
    button.addEventListener("click", () => {
      view = button.dataset.view;
      root.querySelectorAll("[data-view]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    });
  });

  function appendLogs(lines, replace) {
    const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    const kept = (replace ? [] : logs.textContent.split("\n").filter(Boolean)).concat(lines).slice(-MAX_LOG_LINES);
    logs.textContent = kept.join("\n") + (kept.length ? "\n" : "");
    if (atBottom || replace) logs.scrollTop = logs.scrollHeight;
  }

  // --------------------------------------------------------------------------------- data in

  async function backfill() {
    const response = await fetch(root.dataset.stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    const state = await response.json();
    state.iterations.forEach((record) => iterations.set(record.iteration, record));
    state.episodes.forEach((point) => episodes.set(`${point.phase}:${point.iteration}:${point.episode}`, point));
    redraw();
    appendLogs(state.logs, true);
    showStatus(state);
    window.liveJob.showPlace(root, state.queue);
  }

  const handlers = {
    metrics: (payload) => { addIteration(payload); showStatus({ last_iteration: payload.iteration, elapsed_seconds: payload.elapsed_seconds, remaining_seconds: payload.remaining_seconds }); },
    episode: (point) => {
      addEpisode(point);
      if (!FINISHED.includes(status)) field("phase").textContent = point.phase === "evaluation" ? "Evaluating" : "Collecting experience";
    },
    frame: showFrame,
    log: (payload) => appendLogs(payload.lines, false),
    status: showStatus,
  };

  redraw();
  if (FINISHED.includes(status)) backfill();
  else window.liveJob.connect(root, { handlers, onOpen: backfill, isFinished: () => FINISHED.includes(status) });

  // ------------------------------------------------------------------------------- copy buttons

  function setUpCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach((button) => {
      button.addEventListener("click", async () => {
        const text = document.querySelector(button.dataset.copy).textContent;
        try {
          await navigator.clipboard.writeText(text);
          button.textContent = "Copied";
        } catch (error) {
          button.textContent = "Select and copy";
        }
        setTimeout(() => { button.textContent = "Copy"; }, 2000);
      });
    });
  }
})();
