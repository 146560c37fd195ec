// The screen above a counter: the number being served there, live, never stale.
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("display-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var shown = { version: -1, label: null };

  function render(counter) {
    if (!counter || counter.counter_id !== cfg.counter_id) return;
    if (typeof counter.version === "number" && counter.version < shown.version) return;
    shown.version = counter.version;
    var box = $("cd");
    box.dataset.state = counter.state;
    $("cd-counter").textContent = counter.counter;
    var label = counter.label;
    $("cd-label").textContent = label || "—";
    var note = "";
    if (counter.state === "closed") note = cfg.texts.counter_closed;
    else if (counter.state === "paused") note = cfg.texts.counter_paused;
    else if (!label) note = cfg.texts.counter_free;
    $("cd-note").textContent = note;
    // Closed or paused: the state alone and still, not the end of the last call's flash.
    if (counter.state === "closed" || counter.state === "paused") box.classList.remove("flash");
    if (label && label !== shown.label) flash();
    shown.label = label;
  }

  function flash() {
    var box = $("cd");
    box.classList.remove("flash");
    void box.offsetWidth;
    box.classList.add("flash");
  }

  function setOnline(online) {
    $("offline").hidden = online;
    document.body.dataset.online = online ? "yes" : "no";
  }

  var socket = null;
  function sync() {
    if (!socket || !socket.connected) return;
    socket.timeout(10000).emit("sync", {}, function (error, answer) {
      if (error || !answer || answer.error) return;
      if (answer.server_version && answer.server_version !== cfg.server_version) {
        window.location.reload();
        return;
      }
      render(answer.counter);
    });
  }

  function start() {
    setOnline(false);
    if (typeof io === "undefined") return;
    socket = io({
      auth: { token: cfg.token, counter: cfg.counter_id },
      // Counted apart from the phones of the waiting room (socket_guard.py).
      query: { token: cfg.token },
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    });
    socket.on("connect", function () { setOnline(true); sync(); });
    socket.on("disconnect", function () { setOnline(false); });
    socket.on("connect_error", function (error) {
      setOnline(false);
      if (error && error.message === "unauthorized") window.location.reload();
    });
    socket.on("resync", sync);
    socket.on("counter_changed", render);
    socket.on("ticket_called", function (call) {
      if (call.counter_id === cfg.counter_id) {
        shown.label = null; // a recall flashes again
        sync();
      }
    });
    setInterval(sync, 5 * 60 * 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
