// Agent console: actions without page reloads, keyboard shortcuts, live queue counts.
// Every action is a plain form post; this script only makes it faster to use.
(function () {
  "use strict";

  var panel = document.getElementById("panel");
  if (!panel) return;
  var busy = false;
  var refreshTimer = null;

  function dialogOpen() {
    return !!panel.querySelector("dialog[open]");
  }

  function setPanel(html) {
    panel.innerHTML = html;
    wire();
  }

  function submit(form, submitter) {
    if (busy) return;
    busy = true;
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var buttons = panel.querySelectorAll("button");
    buttons.forEach(function (b) { b.classList.add("busy"); });
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    })
      .then(function (response) {
        if (response.redirected || response.status === 401) {
          window.location.reload();
          return null;
        }
        return response.text();
      })
      .then(function (html) { if (html !== null) setPanel(html); })
      .catch(function () { form.submit(); })
      .finally(function () {
        busy = false;
        panel.querySelectorAll("button.busy").forEach(function (b) { b.classList.remove("busy"); });
      });
  }

  function refresh() {
    if (busy || dialogOpen()) {
      schedule();
      return;
    }
    fetch(panel.dataset.panelUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && !busy && !dialogOpen()) setPanel(html); })
      .catch(function () {});
  }

  function schedule() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 700);
  }

  function formatElapsed(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    if (m >= 60) return Math.floor(m / 60) + ":" + String(m % 60).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    return m + ":" + String(s).padStart(2, "0");
  }

  function tick() {
    panel.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.dataset.since);
      if (!isNaN(since)) el.textContent = formatElapsed((Date.now() - since) / 1000);
    });
  }

  function wire() {
    panel.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var dialog = form.closest("dialog");
        if (dialog) dialog.close();
        submit(form, event.submitter);
      });
    });
    panel.querySelectorAll("[data-dialog]").forEach(function (button) {
      button.addEventListener("click", function () {
        var dialog = document.getElementById(button.dataset.dialog);
        if (dialog && !button.disabled) {
          dialog.showModal();
          var first = dialog.querySelector(".choice");
          if (first) first.focus();
        }
      });
    });
    panel.querySelectorAll("dialog [data-close]").forEach(function (button) {
      button.addEventListener("click", function () { button.closest("dialog").close(); });
    });
    tick();
  }

  function shortcutButton(key) {
    var button = panel.querySelector('[data-shortcut="' + key + '"]');
    return button && !button.disabled ? button : null;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName))) return;
    if (dialogOpen()) return;
    var key = event.key === " " || event.key === "Enter" ? "space" : (event.key || "").toLowerCase();
    if (key === "n") key = "space";
    if (key === "space" && target && /^(BUTTON|A|SUMMARY)$/.test(target.tagName)) {
      return; // Space and Enter already activate the focused control.
    }
    var button = shortcutButton(key);
    if (!button) return;
    event.preventDefault();
    button.click();
  });

  // Live queue counts (Socket.IO, authenticated by the session cookie).
  var live = document.getElementById("live");
  function setLive(state) {
    if (!live) return;
    live.dataset.state = state;
    var text = live.querySelector(".live-text");
    if (text) text.textContent = state === "on" ? text.dataset.on : text.dataset.off;
  }

  function connect() {
    if (typeof io === "undefined") {
      setLive("off");
      setInterval(refresh, 10000);
      return;
    }
    var socket = io({ auth: { site: panel.dataset.site }, transports: ["websocket", "polling"] });
    socket.on("connect", function () { setLive("on"); schedule(); });
    socket.on("disconnect", function () { setLive("off"); });
    socket.on("connect_error", function () { setLive("off"); });
    socket.on("queue_changed", function (payload) {
      var waiting = (payload && payload.waiting) || {};
      Object.keys(waiting).forEach(function (code) {
        var el = panel.querySelector('[data-count-for="' + CSS.escape(code) + '"]');
        if (el && el.textContent !== String(waiting[code])) {
          el.textContent = waiting[code];
          el.classList.remove("bump");
          void el.offsetWidth;
          el.classList.add("bump");
        }
      });
      schedule();
    });
  }

  wire();
  setInterval(tick, 1000);
  window.addEventListener("load", connect);
})();
