// The models list: while a model waits in the fair queue, its place (position, estimated start) is
// refreshed from /models/queue/ every few seconds; a model that starts leaves the queue (a reload then
// shows its new status).
(function () {
  "use strict";

  const REFRESH_MS = 5000;
  const table = document.querySelector("[data-queue-url]");
  if (!table) return;
  const lines = () => Array.from(table.querySelectorAll("[data-queue-model]"));
  if (!lines().some((line) => !line.hidden)) return;

  async function refresh() {
    const response = await fetch(table.dataset.queueUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    const { models } = await response.json();
    let waiting = 0;
    for (const line of lines()) {
      const place = models[line.dataset.queueModel];
      if (!place) {
        if (!line.hidden) location.reload();  // it started: its status changed too
        continue;
      }
      waiting += 1;
      line.querySelector('[data-field="position"]').textContent = place.position;
      const start = line.querySelector('[data-field="start"]');
      start.setAttribute("datetime", place.estimated_start);
      start.textContent = new Date(place.estimated_start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      line.hidden = false;
    }
    if (waiting) setTimeout(refresh, REFRESH_MS);
  }
  setTimeout(refresh, REFRESH_MS);
})();
