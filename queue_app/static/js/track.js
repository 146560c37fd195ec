// Tracking page: follows one ticket live (Socket.IO room ticket:<code>).
(function () {
  "use strict";
  var card = document.getElementById("track");
  if (!card) return;
  var labels = JSON.parse(document.getElementById("status-labels").textContent);

  function render(state) {
    if (!state || state.error) return;
    card.dataset.status = state.status;
    card.querySelectorAll("[data-field]").forEach(function (el) {
      var field = el.dataset.field;
      if (field === "status_text") { el.textContent = labels[state.status] || state.status; return; }
      var value = state[field];
      el.textContent = value === null || value === undefined ? "—" : value;
    });
    if (state.status === "called" && navigator.vibrate) navigator.vibrate([300, 150, 300]);
  }

  function start() {
    if (typeof io === "undefined") {
      setInterval(function () {
        fetch("/api/v1/track/" + encodeURIComponent(card.dataset.code))
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(render)
          .catch(function () {});
      }, 15000);
      return;
    }
    var socket = io({ transports: ["websocket", "polling"] });
    function follow() {
      socket.emit("track", { code: card.dataset.code }, render);
    }
    socket.on("connect", follow);
    // The server may have missed updates (its Redis link came back): ask again.
    socket.on("resync", follow);
    socket.on("ticket_updated", render);
  }
  window.addEventListener("load", start);
})();
