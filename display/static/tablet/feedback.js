// The counter's satisfaction tablet. Woken by the Socket.IO event feedback_request
// (room counter:<id>, joined with the tablet's token), with a poll as a fallback;
// asks for a rating with five faces, an optional comment, thanks, and resets.
(function () {
  "use strict";
  var root = document.getElementById("tablet");
  if (!root) return;
  var config = JSON.parse(document.getElementById("tablet-config").textContent);
  var storageKey = "guichet.tablet." + config.counter;
  var params = new URLSearchParams(window.location.search);
  var token = params.get("token");
  try {
    if (token) {
      window.localStorage.setItem(storageKey, token);
      // The token leaves the address bar (and the browser history).
      params.delete("token");
      var rest = params.toString();
      window.history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : ""));
    } else {
      token = window.localStorage.getItem(storageKey);
    }
  } catch (e) { /* private mode: the token in the address still works */ }

  var current = null;   // the ticket being rated: {ticket_id, label, service_name}
  var rated = {};       // ticket ids already rated or skipped here
  var rating = 0;
  var timer = null;
  var sending = false;
  var faces = root.querySelectorAll(".face-button");
  var facesBox = root.querySelector(".faces");
  var commentBox = document.getElementById("comment-box");
  var comment = document.getElementById("comment");
  var sendButton = document.getElementById("send");
  var errorBox = document.getElementById("error");
  var link = document.getElementById("link");

  function later(seconds, fn) {
    clearTimeout(timer);
    timer = setTimeout(fn, seconds * 1000);
  }

  function show(state) {
    root.setAttribute("data-state", state);
    root.setAttribute("data-ticket", current ? String(current.ticket_id) : "");
  }

  function reset() {
    current = null;
    rating = 0;
    sending = false;
    comment.value = "";
    commentBox.classList.remove("open");
    facesBox.classList.remove("chosen");
    faces.forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
    errorBox.textContent = "";
    show("idle");
  }

  function ask(prompt) {
    if (!prompt || !prompt.ticket_id || rated[prompt.ticket_id]) return;
    if (current && current.ticket_id === prompt.ticket_id) return;
    reset();
    current = prompt;
    document.getElementById("ticket-label").textContent = prompt.label || "";
    document.getElementById("ticket-service").textContent = prompt.service_name ? "· " + prompt.service_name : "";
    show("ask");
    // Nobody answered: the citizen has left.
    later(config.askSeconds, function () { if (current) rated[current.ticket_id] = true; reset(); });
  }

  function thanks() {
    if (current) rated[current.ticket_id] = true;
    show("thanks");
    later(config.thanksSeconds, reset);
  }

  function send() {
    if (!current || !rating || sending) return;
    sending = true;
    sendButton.disabled = true;
    errorBox.textContent = "";
    var body = { rating: rating };
    var text = comment.value.trim();
    if (text) body.comment = text;
    fetch(config.feedbackUrl.replace("{id}", String(current.ticket_id)), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
      body: JSON.stringify(body)
    }).then(function (response) {
      sending = false;
      sendButton.disabled = false;
      if (response.status === 201 || response.status === 409 || response.status === 422) {
        thanks();  // recorded, or already rated (on the phone), or too late: nothing to retry
      } else if (response.status === 401 || response.status === 403) {
        show("unpaired");
      } else {
        errorBox.textContent = errorBox.getAttribute("data-text");
      }
    }).catch(function () {
      sending = false;
      sendButton.disabled = false;
      errorBox.textContent = errorBox.getAttribute("data-text");
    });
  }

  faces.forEach(function (button) {
    button.addEventListener("click", function () {
      rating = parseInt(button.getAttribute("data-rating"), 10);
      faces.forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
      facesBox.classList.add("chosen");
      commentBox.classList.add("open");
      // The rating is what matters: it is sent even if the comment is never finished.
      later(config.commentSeconds, send);
    });
  });
  comment.addEventListener("input", function () { later(config.commentSeconds, send); });
  sendButton.addEventListener("click", send);

  function poll() {
    if (!token) return;
    fetch(config.promptUrl, { headers: { "Authorization": "Bearer " + token } })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) { show("unpaired"); return null; }
        return response.status === 200 ? response.json() : null;
      })
      .then(function (prompt) { if (prompt && root.getAttribute("data-state") === "idle") ask(prompt); })
      .catch(function () {});
  }

  if (!token) { show("unpaired"); return; }

  if (typeof io !== "undefined") {
    // The token in the query too: counted apart from the phones of the waiting room.
    var socket = io({
      transports: ["websocket", "polling"],
      auth: { token: token, counter: config.counter },
      query: { token: token }
    });
    socket.on("connect", function () { link.setAttribute("data-state", "on"); poll(); });
    socket.on("disconnect", function () { link.setAttribute("data-state", "off"); });
    socket.on("connect_error", function () { link.setAttribute("data-state", "off"); });
    socket.on("feedback_request", ask);
    // The server may have missed messages (Redis came back): ask for the state again.
    socket.on("resync", poll);
    socket.on("feedback_done", function (done) {
      // Rated on the phone meanwhile: nothing left to ask here.
      if (current && done && done.ticket_id === current.ticket_id && root.getAttribute("data-state") === "ask" && !sending) {
        rated[current.ticket_id] = true;
        reset();
      }
    });
  }
  // The fallback: a missed event is caught within a poll period.
  poll();
  setInterval(function () { if (root.getAttribute("data-state") === "idle") poll(); }, config.pollSeconds * 1000);
})();
