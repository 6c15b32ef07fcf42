// An evaluation: live video from /ws/evaluation/<job>/, the results table per trial (SPEC 4), then the MP4.
(function () {
  "use strict";

  const { FINISHED, STATUS_LABELS } = window.liveJob;
  const TRIAL_STATUS = {
    lap_complete: "Lap complete", off_track: "Off track", crashed: "Crashed", reversed: "Reversed",
    immobilized: "Immobilized", in_progress: "In progress", time_up: "Time up",
  };

  const root = document.getElementById("evaluation-page");
  if (!root) return;
  const tbody = root.querySelector("[data-results]");
  const image = document.getElementById("sim-video");
  const player = root.querySelector("video");
  const trials = new Map();
  let status = root.dataset.status;

  function field(name) { return root.querySelector(`[data-field="${name}"]`); }

  function seconds(value) { return `${Number(value).toFixed(1)} s`; }

  function renderResults() {
    const rows = [...trials.values()].sort((a, b) => a.trial - b.trial);
    if (!rows.length) return;
    tbody.replaceChildren(...rows.map((trial) => {
      const row = document.createElement("tr");
      const cells = [trial.trial, trial.time, `${Number(trial.completion).toFixed(2)}%`,
        TRIAL_STATUS[trial.status] || trial.status, trial.off_track_count, seconds(trial.off_track_penalty),
        trial.crash_count, seconds(trial.crash_penalty), trial.reset_count];
      cells.forEach((value) => { const cell = document.createElement("td"); cell.textContent = value; row.append(cell); });
      return row;
    }));
  }

  function showState(state) {
    if (state.status) {
      status = state.status;
      root.dataset.status = status;
      field("status").textContent = STATUS_LABELS[status] || status;
      root.querySelector(".status-banner").className = `status-banner status-${status.toLowerCase()}`;
    }
    if (state.failure_reason !== undefined) {  // "Stopped by the system" is cleared when the job runs again
      field("failure").textContent = state.failure_reason;
      field("failure").hidden = !state.failure_reason;
    }
    (state.results || []).forEach((trial) => trials.set(trial.trial, trial));
    renderResults();
    if (state.video_url && player.getAttribute("src") !== state.video_url) {
      player.src = state.video_url;
      player.hidden = false;
      image.hidden = true;
      const placeholder = root.querySelector("[data-video-placeholder]");
      if (placeholder) placeholder.remove();
    }
    if (FINISHED.includes(status)) {
      // Over without a video (failed, stopped, or none recorded): stop promising one.
      const placeholder = root.querySelector("[data-video-placeholder]");
      if (placeholder && !state.video_url) placeholder.textContent = placeholder.dataset.finishedText;
      const stop = document.querySelector("[data-stop-form]");
      if (stop) stop.remove();
    }
  }

  async function backfill() {
    const response = await fetch(root.dataset.stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    const state = await response.json();
    showState(state);
    window.liveJob.showPlace(root, state.queue);
  }

  const handlers = {
    episode: (trial) => { trials.set(trial.trial, trial); renderResults(); },
    frame: (payload) => {
      if (payload.view !== "chase" || !player.hidden) return;
      image.src = `data:image/jpeg;base64,${payload.jpeg}`;
      image.hidden = false;
      image.dataset.frames = String(Number(image.dataset.frames) + 1);
      const placeholder = root.querySelector("[data-video-placeholder]");
      if (placeholder) placeholder.remove();
    },
    status: (payload) => { showState(payload); if (FINISHED.includes(payload.status)) backfill(); },
  };

  if (FINISHED.includes(status)) backfill();
  else window.liveJob.connect(root, { handlers, onOpen: backfill, isFinished: () => FINISHED.includes(status) });
})();
