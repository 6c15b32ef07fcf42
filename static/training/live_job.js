// What the live job pages share (training.js, evaluation_detail.js): the job statuses and the websocket
// to the job's group, which reconnects with back-off until the job has finished and calls onOpen after
// every (re)connect, so the page re-fetches its state and misses nothing sent while it was away.
window.liveJob = (function () {
  "use strict";

  const FINISHED = ["COMPLETED", "FAILED", "CANCELED"];
  const STATUS_LABELS = {
    QUEUED: "Queued", INITIALIZING: "Initializing", IN_PROGRESS: "In progress", STOPPING: "Stopping",
    INTERRUPTED: "Stopped by the system", COMPLETED: "Completed", FAILED: "Failed", CANCELED: "Canceled",
  };
  const RECONNECT_MS = [1000, 2000, 5000, 10000];
  const WAITING = ["QUEUED", "INTERRUPTED"];

  // The job's place in the fair queue (a "queue" event, or the state's "queue"): hidden once it runs.
  function showPlace(root, place) {
    const line = root.querySelector('[data-field="queue-place"]');
    if (!line) return;
    if (!place) { line.hidden = true; return; }
    line.querySelector('[data-field="queue-position"]').textContent = place.position;
    const start = line.querySelector('[data-field="queue-start"]');
    start.setAttribute("datetime", place.estimated_start);
    start.textContent = new Date(place.estimated_start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    line.hidden = false;
  }

  // handlers[event](payload) for each message of the socket at root.dataset.socket.
  function connect(root, { handlers, onOpen, isFinished }) {
    let reconnects = 0;
    const open = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}${root.dataset.socket}`);
      root.liveSocket = socket;  // the browser test cuts it to check a reconnect loses and repeats nothing
      socket.addEventListener("open", () => { reconnects = 0; root.dataset.socketState = "open"; onOpen(); });
      socket.addEventListener("message", (message) => {
        const data = JSON.parse(message.data);
        if (data.event === "queue") showPlace(root, data.payload);
        if (data.event === "status" && data.payload.status && !WAITING.includes(data.payload.status)) showPlace(root, null);
        const handler = handlers[data.event];
        if (handler) handler(data.payload);
      });
      socket.addEventListener("close", () => {
        root.dataset.socketState = "closed";
        if (isFinished()) return;
        setTimeout(open, RECONNECT_MS[Math.min(reconnects++, RECONNECT_MS.length - 1)]);
      });
    };
    open();
  }

  return { FINISHED, STATUS_LABELS, connect, showPlace };
})();
