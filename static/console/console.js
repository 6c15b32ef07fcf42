// The console shell: navigation and Info panel toggles, and live notifications over /ws/notifications/.
// Plain JavaScript on server-rendered pages; everything here is an enhancement.
(function () {
  "use strict";

  var INFO_KEY = "console.info-open";
  var NAV_KEY = "console.nav-collapsed";
  var RECONNECT_MS = 2000;
  var RECONNECT_MAX_MS = 60000;
  var reconnectDelay = RECONNECT_MS;
  var TOAST_MS = 8000;
  var body = document.body;
  body.classList.add("js");

  function setInfoOpen(open) {
    body.classList.toggle("info-open", open);
    document.querySelectorAll("[data-info-toggle]").forEach(function (button) {
      button.setAttribute("aria-expanded", String(open));
    });
    try { localStorage.setItem(INFO_KEY, open ? "1" : "0"); } catch (e) { /* private mode */ }
  }

  function setupInfoPanel() {
    var panelBody = document.querySelector(".info-panel-body");
    if (!panelBody || panelBody.innerHTML.trim() === "") { return; }
    var remembered = null;
    try { remembered = localStorage.getItem(INFO_KEY); } catch (e) { /* private mode */ }
    setInfoOpen(remembered === "1");
    document.addEventListener("click", function (event) {
      if (event.target.closest("[data-info-toggle]")) {
        event.preventDefault();
        setInfoOpen(!body.classList.contains("info-open"));
      }
    });
  }

  function setupNavToggle() {
    var button = document.querySelector(".nav-toggle");
    if (!button) { return; }
    var narrow = window.matchMedia("(max-width: 760px)");
    try { if (!narrow.matches && localStorage.getItem(NAV_KEY) === "1") { body.classList.add("nav-collapsed"); } } catch (e) { /* private mode */ }
    button.setAttribute("aria-expanded", String(!body.classList.contains("nav-collapsed")));
    button.addEventListener("click", function () {
      var open;
      if (narrow.matches) {
        open = body.classList.toggle("nav-open");
      } else {
        open = !body.classList.toggle("nav-collapsed");
        try { localStorage.setItem(NAV_KEY, open ? "0" : "1"); } catch (e) { /* private mode */ }
      }
      button.setAttribute("aria-expanded", String(open));
    });
  }

  function showToast(message, level) {
    var box = document.getElementById("notifications");
    if (!box) { return; }
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (level || "info");
    toast.setAttribute("role", "status");
    toast.textContent = message;
    box.appendChild(toast);
    setTimeout(function () { toast.remove(); }, TOAST_MS);
  }

  function connectNotifications() {
    var path = body.dataset.notificationsSocket;
    if (!path || !window.WebSocket) { return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + path);
    socket.addEventListener("open", function () {
      body.dataset.notificationsConnected = "true";
      reconnectDelay = RECONNECT_MS;
    });
    socket.addEventListener("message", function (event) {
      var data = JSON.parse(event.data);
      if (data.event === "notification") { showToast(data.payload.message, data.payload.level); }
      document.dispatchEvent(new CustomEvent("console:notification", { detail: data }));
    });
    socket.addEventListener("close", function (event) {
      body.dataset.notificationsConnected = "false";
      // 4401: not signed in any more; do not knock again. Otherwise retry, less often each time.
      if (event.code !== 4401) {
        setTimeout(connectNotifications, reconnectDelay);
        reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
      }
    });
  }

  function closeMenusOnOutsideClick() {
    document.addEventListener("click", function (event) {
      document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
        if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
      });
    });
  }

  window.consoleShell = { showToast: showToast };
  closeMenusOnOutsideClick();
  setupInfoPanel();
  setupNavToggle();
  connectNotifications();
}());
