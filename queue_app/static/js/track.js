// Tracking page: follows one ticket live (Socket.IO room ticket:<code>).
// Light for a cheap phone on 3G: no library besides the Socket.IO client.
(function () {
  "use strict";
  var card = document.getElementById("track");
  if (!card) return;
  var labels = JSON.parse(document.getElementById("status-labels").textContent);
  var texts = JSON.parse(document.getElementById("track-texts").textContent);
  var shown = { version: Number(card.dataset.version) || 0, status: card.dataset.status };
  var title = document.title;
  var audio = null;

  // --- "it is your turn": vibration and a sound, where the phone allows ----------
  function beep() {
    if (!audio) return;
    var now = audio.currentTime;
    [[880, 0], [660, 0.28], [880, 0.56]].forEach(function (tone) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = tone[0];
      gain.gain.setValueAtTime(0.0001, now + tone[1]);
      gain.gain.exponentialRampToValueAtTime(0.5, now + tone[1] + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + tone[1] + 0.25);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + tone[1]);
      osc.stop(now + tone[1] + 0.26);
    });
  }

  function alertCalled() {
    if (navigator.vibrate) {
      try { navigator.vibrate([400, 150, 400, 150, 400]); } catch (e) { /* not allowed */ }
    }
    if (audio && audio.state === "suspended") audio.resume();
    beep();
    document.title = "🔔 " + texts.called + " · " + title;
    card.dataset.alerted = "yes";
  }

  function setUpAlerts() {
    var button = document.getElementById("alert-toggle");
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!button || (!Context && !navigator.vibrate)) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      // A tap is what phones require before sound and vibration.
      if (Context && !audio) {
        try { audio = new Context(); } catch (e) { audio = null; }
      }
      if (audio && audio.state === "suspended") audio.resume();
      if (navigator.vibrate) {
        try { navigator.vibrate(60); } catch (e) { /* not allowed */ }
      }
      beep();
      button.setAttribute("aria-pressed", "true");
    });
    if (Context) {
      // Where the browser allows sound without a tap, it is on at once.
      try {
        var probe = new Context();
        if (probe.state === "running") audio = probe; else probe.close();
      } catch (e) { /* no sound */ }
    }
  }

  // --- state -----------------------------------------------------------------------
  // The same words as the paper ticket, the kiosk and the SMS (position_text.py).
  function fill(template, n) { return template.replace("{n}", String(n)); }

  function positionText(position) {
    if (position === null || position === undefined) return "";
    if (position <= 0) return texts.next;
    return position === 1 ? texts.ahead_one : fill(texts.ahead_many, position);
  }

  function waitText(state) {
    if (!state.position || state.estimated_wait_minutes === null
        || state.estimated_wait_minutes === undefined) return "";
    return fill(texts.wait, state.estimated_wait_minutes);
  }

  function render(state) {
    if (!state || state.error) return;
    // A state older than the one shown (it arrived late) is dropped.
    if (typeof state.version === "number") {
      if (state.version < shown.version) return;
      shown.version = state.version;
    }
    var was = shown.status;
    shown.status = state.status;
    card.dataset.status = state.status;
    card.querySelectorAll("[data-field]").forEach(function (el) {
      var field = el.dataset.field;
      if (field === "status_text") { el.textContent = labels[state.status] || state.status; return; }
      if (field === "position_text") { el.textContent = positionText(state.position); return; }
      if (field === "wait_text") { el.textContent = waitText(state); return; }
      var value = state[field];
      el.textContent = value === null || value === undefined ? "—" : value;
    });
    if (state.status === "called" && was !== "called") alertCalled();
    if (state.status !== "called") document.title = title;
  }

  function start() {
    setUpAlerts();
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

// The rating on the tracking page, shown once the ticket is served (once per ticket).
(function () {
  "use strict";
  var card = document.getElementById("rate");
  if (!card) return;
  var code = card.getAttribute("data-code");
  var faces = card.querySelectorAll(".face-button");
  var box = card.querySelector("[data-when-selected]");
  var errorText = card.querySelector("[data-error-text]");
  var rating = 0;
  faces.forEach(function (button) {
    button.addEventListener("click", function () {
      rating = parseInt(button.getAttribute("data-rating"), 10);
      faces.forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
      card.querySelector(".faces").classList.add("chosen");
      box.classList.add("open");
    });
  });
  card.querySelector("[data-send]").addEventListener("click", function () {
    if (!rating) return;
    var body = { rating: rating };
    var comment = document.getElementById("rate-comment").value.trim();
    if (comment) body.comment = comment;
    errorText.textContent = "";
    fetch("/api/v1/track/" + encodeURIComponent(code) + "/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.status === 201 || response.status === 409) {
        card.setAttribute("data-state", "thanks");
      } else {
        errorText.textContent = card.getAttribute("data-error");
      }
    }).catch(function () { errorText.textContent = card.getAttribute("data-error"); });
  });
})();
