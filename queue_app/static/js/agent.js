// Agent console: actions without page reloads, keyboard shortcuts, live queue counts.
// Every action is a plain form post; this script only makes it faster to use.
(function () {
  "use strict";

  var panel = document.getElementById("panel");
  if (!panel) return;
  var announcer = document.getElementById("announcer");
  var busy = false;
  var version = 0; // bumped by every action: an older background refresh is dropped
  var refreshTimer = null;
  var alertsShownAt = 0;
  var ALERT_KEEP_MS = 8000;
  var REQUEST_TIMEOUT_MS = 15000;

  function dialogOpen() {
    return !!panel.querySelector("dialog[open]");
  }

  function isPanel(html) {
    return html.indexOf("data-console-panel") !== -1;
  }

  function alertsBox() {
    return panel.querySelector("[data-alerts]");
  }

  function showAlert(kind, message) {
    var box = alertsBox();
    if (!box) return;
    box.innerHTML = "";
    var div = document.createElement("div");
    div.className = "alert " + kind;
    div.setAttribute("role", kind === "error" ? "alert" : "status");
    div.textContent = message;
    box.appendChild(div);
    alertsShownAt = Date.now();
  }

  // fromAction: the answer to the agent's own action (announce it, focus the call button).
  // A background refresh keeps a fresh error, or a notice the agent reads out ("checked in:
  // ticket B-012"), on screen for a few seconds; a passing notice ("nobody is waiting")
  // goes, since the refresh means the queue changed.
  function setPanel(html, fromAction) {
    var keep = null;
    if (!fromAction && Date.now() - alertsShownAt < ALERT_KEEP_MS) {
      var old = alertsBox();
      var errors = old ? old.querySelectorAll(".alert.error, .alert[data-keep]") : [];
      if (errors.length) {
        keep = Array.prototype.map.call(errors, function (e) { return e.outerHTML; }).join("");
      }
    }
    // Keep keyboard focus on the same control across a background refresh.
    var active = document.activeElement;
    var focusKey = !fromAction && active && panel.contains(active) ? active.getAttribute("data-shortcut") : null;
    panel.innerHTML = html;
    if (focusKey) {
      var again = panel.querySelector('[data-shortcut="' + focusKey + '"]:not(:disabled)');
      if (again) again.focus({ preventScroll: true });
    }
    var box = alertsBox();
    if (keep && box && !box.children.length) box.innerHTML = keep;
    else if (fromAction && box && box.children.length) alertsShownAt = Date.now();
    wire();
    if (fromAction) {
      var grid = panel.querySelector("[data-console-panel]");
      if (announcer && grid) {
        var alert = box && box.textContent.trim();
        announcer.textContent = alert || grid.getAttribute("data-announce") || "";
      }
      var call = panel.querySelector('[data-shortcut="space"]:not(:disabled)');
      if (call) call.focus({ preventScroll: true });
    }
  }

  function setBusy(on, button) {
    var grid = panel.querySelector("[data-console-panel]");
    if (grid) grid.setAttribute("aria-busy", on ? "true" : "false");
    panel.querySelectorAll("button").forEach(function (b) { b.classList.toggle("busy", on); });
    if (button) button.classList.toggle("is-loading", on);
  }

  function submit(form, submitter) {
    if (busy) return;
    busy = true;
    version += 1;
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var pressed = submitter || form.querySelector("button[type=submit]");
    setBusy(true, pressed && panel.contains(pressed) && !pressed.closest("dialog") ? pressed : null);
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
      signal: controller ? controller.signal : undefined,
    })
      .then(function (response) {
        if (response.redirected || response.status === 401) {
          // Signed out (or the session expired): the login page takes over.
          window.location.reload();
          return null;
        }
        return response.text().then(function (html) {
          if (isPanel(html)) return html;
          // Not our counter any more, or an error page: the full page knows what to show.
          window.location.reload();
          return null;
        });
      })
      .then(function (html) {
        busy = false;
        if (html !== null) setPanel(html, true);
      })
      .catch(function () {
        busy = false;
        setBusy(false, pressed);
        // The action may or may not have been done: say so, and refresh what is shown.
        showAlert("error", panel.dataset.offlineMessage);
        schedule(3000);
      })
      .finally(function () {
        if (timer) clearTimeout(timer);
      });
  }

  function refresh() {
    if (busy || dialogOpen()) {
      schedule();
      return;
    }
    var started = version;
    fetch(panel.dataset.panelUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 403 || r.redirected) {
          window.location.reload();
          return null;
        }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null || !isPanel(html) || busy || started !== version) return;
        if (dialogOpen()) schedule(); else setPanel(html, false);
      })
      .catch(function () {});
  }

  function schedule(delay) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, delay || 700);
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
      if (form.hasAttribute("data-native")) return; // leaves the console: a normal post
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
        if (dialog && !button.disabled && !busy) {
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
    if (busy) return; // one action at a time: a second press is not a second call
    button.click();
  });

  // Live queue counts (Socket.IO, authenticated by the session cookie).
  var live = document.getElementById("live");
  var pollTimer = null;
  function setLive(state) {
    if (!live) return;
    live.dataset.state = state;
    var text = live.querySelector(".live-text");
    if (text) text.textContent = state === "on" ? text.dataset.on : text.dataset.off;
    // Without the live channel, look again now and then so the counts do not go stale.
    if (state === "on" && pollTimer) {
      clearInterval(pollTimer);
      pollTimer = null;
    } else if (state !== "on" && !pollTimer) {
      pollTimer = setInterval(refresh, 15000);
    }
  }

  function connect() {
    if (typeof io === "undefined") {
      setLive("off");
      return;
    }
    // Back online within reconnectionDelayMax (times 1.5 at most, Socket.IO's jitter).
    var socket = io({
      auth: { site: panel.dataset.site },
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    });
    socket.on("connect", function () { setLive("on"); schedule(); });
    socket.on("disconnect", function () { setLive("off"); });
    socket.on("connect_error", function () { setLive("off"); });
    // The server may have missed events (its Redis link came back): look again.
    socket.on("resync", function () { schedule(); });
    // An alert of the office opened or closed (ops/alerts.py): the banner follows.
    socket.on("alerts_changed", function () { schedule(); });
    socket.on("queue_changed", function (payload) {
      var waiting = (payload && payload.waiting) || {};
      panel.querySelectorAll("[data-count-for]").forEach(function (el) {
        if (!Object.prototype.hasOwnProperty.call(waiting, el.dataset.countFor)) return;
        var value = String(waiting[el.dataset.countFor]);
        if (el.textContent !== value) {
          el.textContent = value;
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
