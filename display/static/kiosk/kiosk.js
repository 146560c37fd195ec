// Touch kiosk: tap a service → a ticket on screen (and on paper). No framework, CSP-clean.
(function () {
  "use strict";
  var root = document.getElementById("kiosk");
  if (!root) return;
  var config = JSON.parse(document.getElementById("kiosk-config").textContent);
  var text = JSON.parse(document.getElementById("kiosk-text").textContent);
  var token = new URLSearchParams(window.location.search).get("token") || "";
  var screens = ["home", "ticket", "checkin", "busy", "problem"];
  var priority = null;
  var busy = false;
  var resetTimer = null;
  var idleTimer = null;
  var pollTimer = null;
  var reference = "";

  function $(id) { return document.getElementById(id); }

  function show(name) {
    screens.forEach(function (screen) {
      $("screen-" + screen).hidden = screen !== name;
    });
    root.dataset.screen = name;
  }

  // A key per tap: a retried request returns the same ticket, never a second one.
  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "kiosk-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function request(method, path, body, key) {
    var attempts = 0;
    function once() {
      attempts += 1;
      var controller = new AbortController();
      var timer = setTimeout(function () { controller.abort(); }, 6000);
      var headers = { "Authorization": "Bearer " + token, "Accept": "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (key) headers["Idempotency-Key"] = key;
      return fetch(path, {
        method: method, headers: headers, signal: controller.signal,
        body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store"
      }).then(function (response) {
        clearTimeout(timer);
        if (response.status >= 500 && attempts < 3) return retry();
        return response.json().catch(function () { return {}; }).then(function (data) {
          return { status: response.status, data: data };
        });
      }, function () {
        clearTimeout(timer);
        if (attempts < 3) return retry();
        return { status: 0, data: {} };
      });
    }
    function retry() {
      return new Promise(function (resolve) { setTimeout(resolve, 400 * attempts); }).then(once);
    }
    return once();
  }

  function goHome() {
    clearTimeout(resetTimer);
    clearTimeout(idleTimer);
    clearTimeout(pollTimer);
    setPriority(null);
    reference = "";
    renderReference();
    busy = false;
    show("home");
  }

  function setPriority(kind) {
    priority = kind;
    root.querySelectorAll(".priority-choice").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.priority === kind));
    });
    root.classList.toggle("with-priority", !!kind);
    $("priority-note").hidden = !kind;
  }

  function problem(message, seconds) {
    $("problem-text").textContent = message || text.error;
    show("problem");
    busy = false;
    clearTimeout(resetTimer);
    resetTimer = setTimeout(goHome, (seconds || config.reset_seconds) * 1000);
  }

  function fill(template, n) { return template.replace("{n}", String(n)); }

  function showTicket(ticket) {
    $("ticket-label").textContent = ticket.label;
    $("ticket-service").textContent = ticket.service_name || "";
    $("ticket-priority").hidden = !ticket.priority;
    var ahead = ticket.position;
    $("ticket-ahead").textContent = ahead === 0 ? text.next
      : ahead === 1 ? text.ahead_one : ahead == null ? "" : fill(text.ahead_many, ahead);
    $("ticket-wait").textContent = ahead && ticket.estimated_wait_minutes != null
      ? fill(text.wait, ticket.estimated_wait_minutes) : "";
    $("ticket-qr").src = "/kiosk/qr/" + encodeURIComponent(ticket.code) + ".svg";
    // The code printed under the QR, grouped in fours the same way (guichet_printer.layout).
    $("ticket-code").textContent = (String(ticket.code || "").match(/.{1,4}/g) || []).join("-");
    show("ticket");
    busy = false;
    var job = ticket.print_job;
    if (job) {
      printState("printing", text.printing);
      followPrint(job.id, Date.now());
    } else {
      printState("none", text.no_printer);
    }
    countdown(config.reset_seconds);
  }

  function printState(state, message) {
    var el = $("print-state");
    el.dataset.state = state;
    el.textContent = message;
  }

  function countdown(seconds) {
    clearTimeout(resetTimer);
    var bar = $("countdown-bar");
    bar.classList.remove("running");
    bar.style.transitionDuration = seconds + "s";
    void bar.offsetWidth; // restart the CSS transition
    bar.classList.add("running");
    resetTimer = setTimeout(goHome, seconds * 1000);
  }

  // Follow the print job until the paper is out, or tell the citizen it will not come.
  function followPrint(jobId, started) {
    request("GET", "/api/v1/print-jobs/" + jobId).then(function (answer) {
      if (root.dataset.screen !== "ticket") return;
      var job = answer.data || {};
      var printer = job.printer_status || {};
      if (job.status === "done" && printer.paper !== "out") {
        printState("done", text.printed);
        return;
      }
      // The printer is known to be away (it refused a second attempt), or the paper
      // has not come out after a few seconds: the citizen must not wait for it.
      var away = printer.online === false && job.attempts > 1;
      if (job.status === "failed" || printer.paper === "out" || away ||
          Date.now() - started > 4000) {
        printState("failed", printer.paper === "out" ? text.paper_out : text.print_failed);
        countdown(config.reset_seconds * 2);
        return;
      }
      pollTimer = setTimeout(function () { followPrint(jobId, started); }, 400);
    });
  }

  function issue(service) {
    if (busy) return;
    busy = true;
    var key = newKey();
    var slowTimer = setTimeout(function () { if (busy) show("busy"); }, 250);
    request("POST", "/api/v1/sites/" + encodeURIComponent(config.site) + "/tickets",
      { service: service, priority: !!priority }, key).then(function (answer) {
      clearTimeout(slowTimer);
      if (answer.status === 201) return showTicket(answer.data);
      if (answer.status === 0) return problem(text.offline);
      problem((answer.data.error && answer.data.error.message) || text.error);
    });
  }

  // --- appointment check-in -------------------------------------------------
  function renderReference() {
    var out = $("reference");
    if (!out) return;
    out.textContent = reference || "\u00a0";
    $("checkin-confirm").disabled = reference.length < 4;
    $("checkin-error").hidden = true;
  }

  function checkIn() {
    if (busy || reference.length < 4) return;
    busy = true;
    show("busy");
    request("POST", "/api/v1/appointments/" + encodeURIComponent(reference) + "/check-in",
      {}, newKey()).then(function (answer) {
      if (answer.status === 200 || answer.status === 201) return showTicket(answer.data);
      busy = false;
      show("checkin");
      var error = $("checkin-error");
      error.hidden = false;
      if (answer.status === 0) error.textContent = text.offline;
      else if (answer.status === 404) error.textContent = text.unknown_reference;
      else error.textContent = (answer.data.error && answer.data.error.message) || text.error;
      armIdle();
    });
  }

  function armIdle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(goHome, 60000);
  }

  // --- wiring ---------------------------------------------------------------
  root.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) return;
    if (target.dataset.service) return issue(target.dataset.service);
    if (target.dataset.priority) {
      return setPriority(priority === target.dataset.priority ? null : target.dataset.priority);
    }
    if (target.dataset.action === "home" || target.id === "ticket-done") return goHome();
    if (target.id === "open-checkin") { reference = ""; renderReference(); show("checkin"); return armIdle(); }
    if (target.dataset.key) {
      armIdle();
      if (target.dataset.key === "erase") reference = reference.slice(0, -1);
      else if (reference.length < config.reference_max) reference += target.dataset.key;
      return renderReference();
    }
    if (target.id === "checkin-confirm") return checkIn();
  });

  // Full screen at the first touch (browsers allow it only after a gesture).
  document.addEventListener("pointerdown", function () {
    var el = document.documentElement;
    if (!document.fullscreenElement && el.requestFullscreen) {
      el.requestFullscreen().catch(function () {});
    }
  }, { once: true });
  document.addEventListener("contextmenu", function (event) { event.preventDefault(); });

  var clockFormat = new Intl.DateTimeFormat(document.documentElement.lang || "fr", {
    weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
    timeZone: config.timezone
  });
  function tick() { $("clock").textContent = clockFormat.format(new Date()); }
  tick();
  setInterval(tick, 10000);

  // Services, names and hours change: reload now and then while nobody uses the kiosk,
  // and only when the server answers (a reload while it is away would blank the screen).
  setInterval(function () {
    if (root.dataset.screen !== "home" || busy || priority) return;
    fetch(window.location.href, { method: "HEAD", cache: "no-store" }).then(function (response) {
      if (response.ok && root.dataset.screen === "home") window.location.reload();
    }, function () {});
  }, 15 * 60 * 1000);
  renderReference();
  show("home");
})();
