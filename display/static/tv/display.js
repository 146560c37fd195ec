// Waiting-room display: shows and announces every call, never stale.
//
// State comes from the server only: the board on every (re)connect, on the
// server's "resync" and every few minutes; live events in between. A state
// older (lower version) than the one shown is dropped. Announcements go
// through one queue: chime, then the call spoken by the browser's voice in
// the site's language, or recorded clips joined when there is no such voice
// (the office's own recordings first, then the set shipped with the server).
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("display-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var LATE_MS = cfg.announce_late_seconds * 1000;
  var ANNOUNCED_KEY = "guichet.announced." + cfg.slug + "." + cfg.device;

  var state = {
    calls: [],          // newest first: {label, counter, counter_id, service, service_name, called_at, status, seq}
    services: [],       // [{code, name}]
    counts: {},
    countsVersion: -1,
    seq: 0,             // arrival order of live calls
    offsetMs: Date.parse(cfg.server_now) - Date.now(),
    day: null,
    flashTimer: null,
  };

  // --- announced calls survive a reload (a new server version) -----------------
  var announced = (function () {
    try { return JSON.parse(sessionStorage.getItem(ANNOUNCED_KEY) || "[]"); } catch (e) { return []; }
  })();
  function wasAnnounced(key) { return announced.indexOf(key) >= 0; }
  function markAnnounced(key) {
    announced.push(key);
    if (announced.length > 60) announced = announced.slice(-60);
    try { sessionStorage.setItem(ANNOUNCED_KEY, JSON.stringify(announced)); } catch (e) { /* full */ }
  }
  function callKey(call) { return call.label + "|" + call.called_at; }

  // --- clock in the site's time zone, on the server's time ----------------------
  var timeFormat = new Intl.DateTimeFormat(cfg.ui_language, { timeZone: cfg.timezone, hour: "2-digit", minute: "2-digit" });
  var dateFormat = new Intl.DateTimeFormat(cfg.ui_language, { timeZone: cfg.timezone, weekday: "long", day: "numeric", month: "long" });
  var dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: cfg.timezone });
  function serverNow() { return new Date(Date.now() + state.offsetMs); }
  function tick() {
    var now = serverNow();
    $("clock").textContent = timeFormat.format(now);
    $("date").textContent = dateFormat.format(now);
    var day = dayFormat.format(now);
    if (state.day !== null && day !== state.day) sync("new day");
    state.day = day;
  }

  // --- rendering ---------------------------------------------------------------
  function serviceName(code) {
    for (var i = 0; i < state.services.length; i++) {
      if (state.services[i].code === code) return state.services[i].name;
    }
    return code;
  }

  function renderCalls() {
    var now = $("now");
    var current = state.calls[0];
    if (!current) {
      now.dataset.state = "idle";
      $("now-label").textContent = "—";
      $("now-counter").textContent = "";
      $("now-service").textContent = cfg.texts.no_call;
    } else {
      now.dataset.state = "call";
      $("now-label").textContent = current.label;
      $("now-counter").textContent = current.counter;
      $("now-service").textContent = current.service_name || serviceName(current.service);
    }
    var list = $("recent");
    var row = $("recent-row");
    list.textContent = "";
    state.calls.slice(1, cfg.board_calls).forEach(function (call) {
      var item = row.content.firstElementChild.cloneNode(true);
      item.querySelector(".r-label").textContent = call.label;
      item.querySelector(".r-counter").textContent = call.counter;
      item.dataset.status = call.status || "called";
      list.appendChild(item);
    });
  }

  function renderCounts() {
    var list = $("counts");
    var chip = $("count-chip");
    list.textContent = "";
    var codes = state.services.map(function (s) { return s.code; });
    Object.keys(state.counts).forEach(function (code) { if (codes.indexOf(code) < 0) codes.push(code); });
    codes.forEach(function (code) {
      if (!(code in state.counts)) return;
      var item = chip.content.firstElementChild.cloneNode(true);
      item.dataset.service = code;
      item.querySelector(".count-name").textContent = serviceName(code);
      item.querySelector(".count-n").textContent = state.counts[code];
      list.appendChild(item);
    });
  }

  function setMessage(text) {
    var line = $("message");
    line.textContent = text || "";
    line.hidden = !text;
    line.classList.toggle("long", (text || "").length > 90);
  }

  function flash() {
    var now = $("now");
    now.classList.remove("flash");
    void now.offsetWidth; // restart the animation
    now.classList.add("flash");
    clearTimeout(state.flashTimer);
    state.flashTimer = setTimeout(function () { now.classList.remove("flash"); }, cfg.flash_seconds * 1000);
  }

  function setOnline(online) {
    $("offline").hidden = online;
    document.body.dataset.online = online ? "yes" : "no";
  }

  // --- calls: merge live ones with the board -------------------------------------
  function byNewest(a, b) {
    if (a.called_at !== b.called_at) return a.called_at < b.called_at ? 1 : -1;
    return a.label < b.label ? 1 : -1;
  }

  function mergeCall(call) {
    for (var i = 0; i < state.calls.length; i++) {
      var known = state.calls[i];
      if (known.label === call.label) {
        if (known.called_at > call.called_at) return false; // an older state of that ticket
        state.calls.splice(i, 1);
        break;
      }
    }
    state.calls.push(call);
    state.calls.sort(byNewest);
    state.calls = state.calls.slice(0, Math.max(cfg.board_calls, 1));
    return state.calls[0] === call;
  }

  function onCall(payload) {
    state.seq += 1;
    var call = {
      label: payload.label, counter: payload.counter, counter_id: payload.counter_id,
      service: payload.service, service_name: payload.service_name,
      called_at: payload.called_at, status: "called", seq: state.seq,
    };
    var newest = mergeCall(call);
    renderCalls();
    if (newest) flash();
    announce(call);
  }

  function onCounts(payload) {
    if (typeof payload.version === "number" && payload.version < state.countsVersion) return;
    state.countsVersion = typeof payload.version === "number" ? payload.version : state.countsVersion;
    state.counts = payload.waiting || {};
    renderCounts();
  }

  function applyBoard(board, sentSeq) {
    if (board.server_version && board.server_version !== cfg.server_version) {
      // A new version of the server was deployed: take its pages and scripts.
      window.location.reload();
      return;
    }
    state.offsetMs = Date.parse(board.generated_at) - Date.now();
    state.services = board.services || state.services;
    var live = state.calls.filter(function (call) { return call.seq > sentSeq; });
    var previous = state.calls[0] ? callKey(state.calls[0]) : null;
    state.calls = (board.calls || []).map(function (call) {
      return {
        label: call.label, counter: call.counter, counter_id: call.counter_id,
        service: call.service, service_name: call.service_name,
        called_at: call.called_at, status: call.status, seq: 0,
      };
    }).sort(byNewest);
    live.forEach(mergeCall);
    renderCalls();
    onCounts({ waiting: board.waiting, version: board.version });
    setMessage(board.message);
    // Calls made while this screen was away a moment are still announced.
    var generated = Date.parse(board.generated_at);
    state.calls.slice().reverse().forEach(function (call) {
      if (call.status === "called" && generated - Date.parse(call.called_at) <= LATE_MS) {
        announce(call);
      }
    });
    if (state.calls[0] && callKey(state.calls[0]) !== previous && previous !== null) flash();
  }

  // --- sound: chime, voice, recorded clips -----------------------------------------
  var chime = new Audio(cfg.chime_url);
  chime.preload = "auto";
  var clipPlayer = new Audio();
  var audioContext = null;
  var uploaded = null;     // {language: {key: true}} of the office's recordings
  var blobs = {};          // url → object URL of a fetched recording
  var queue = [];
  var speaking = false;

  function soundBlocked(blocked) {
    $("sound-blocked").hidden = !blocked;
    document.body.dataset.sound = blocked ? "blocked" : "on";
  }

  function play(audio, src) {
    // Resolves when the sound ended (or failed); a refusal by the autoplay policy shows the banner.
    return new Promise(function (resolve) {
      var done = false;
      function finish() {
        if (done) return;
        done = true;
        audio.removeEventListener("ended", finish);
        audio.removeEventListener("error", finish);
        resolve();
      }
      if (src) audio.src = src;
      audio.currentTime = 0;
      audio.addEventListener("ended", finish);
      audio.addEventListener("error", finish);
      setTimeout(finish, 6000);
      var started = audio.play();
      if (started && started.then) {
        started.then(function () { soundBlocked(false); }, function (error) {
          if (error && error.name === "NotAllowedError") soundBlocked(true);
          finish();
        });
      }
    });
  }

  function pickVoice(language) {
    if (!window.speechSynthesis) return null;
    var voices = window.speechSynthesis.getVoices() || [];
    var best = null;
    for (var i = 0; i < voices.length; i++) {
      var lang = (voices[i].lang || "").toLowerCase().replace("_", "-");
      if (lang.split("-")[0] !== language) continue;
      if (!best || (voices[i].localService && !best.localService)) best = voices[i];
    }
    return best;
  }

  function ticketWords(label) {
    var match = /^([A-Za-z]+)-?0*(\d+)$/.exec(label);
    if (!match) return { letters: [], number: null, text: label };
    var letters = match[1].toUpperCase().split("");
    var number = parseInt(match[2], 10);
    return { letters: letters, number: number, text: letters.join(" ") + " " + number };
  }

  function counterWords(name) {
    if (/^\d+$/.test(name)) return cfg.speech.counter_word + " " + name;
    return name;
  }

  function numberKeys(number) {
    if (number < 100) return ["number-" + number];
    if (number < 1000) {
      var rest = number % 100;
      return ["hundred-" + Math.floor(number / 100)].concat(rest ? ["number-" + rest] : []);
    }
    return String(number).split("").map(function (d) { return "number-" + d; });
  }

  function clipKeys(call) {
    var words = ticketWords(call.label);
    if (words.number === null) return null;
    var keys = ["ticket"].concat(words.letters.map(function (l) { return "letter-" + l.toLowerCase(); }));
    keys = keys.concat(numberKeys(words.number));
    var own = "counter-" + call.counter_id;
    var match = /(\d+)\s*$/.exec(call.counter || "");
    return { base: keys, own: own, counterNumber: match ? numberKeys(parseInt(match[1], 10)) : null };
  }

  function clipPlan(call, have) {
    // The clips to join for a call from one set (have: key → true), else null.
    var keys = clipKeys(call);
    if (!keys) return null;
    var plan = keys.base.slice();
    if (have[keys.own]) plan.push(keys.own);
    else if (keys.counterNumber) plan = plan.concat(["counter"], keys.counterNumber);
    else return null;
    for (var i = 0; i < plan.length; i++) if (!have[plan[i]]) return null;
    return plan;
  }

  function uploadedUrl(language, key) {
    return cfg.voices.clips_url + "/" + encodeURIComponent(language) + "/" + encodeURIComponent(key);
  }

  function fetchClip(url) {
    if (blobs[url]) return Promise.resolve(blobs[url]);
    return fetch(url, { headers: { Authorization: "Bearer " + cfg.token } })
      .then(function (r) { if (!r.ok) throw new Error("clip " + r.status); return r.blob(); })
      .then(function (blob) { blobs[url] = URL.createObjectURL(blob); return blobs[url]; });
  }

  function playClips(urls) {
    var step = Promise.resolve();
    urls.forEach(function (url) {
      step = step.then(function () {
        return (url.indexOf("/api/") === 0 ? fetchClip(url) : Promise.resolve(url))
          .then(function (src) { return play(clipPlayer, src); }, function () { /* skip a missing clip */ });
      });
    });
    return step;
  }

  function speakWith(voice, text) {
    return new Promise(function (resolve) {
      var utterance = new SpeechSynthesisUtterance(text);
      utterance.voice = voice;
      utterance.lang = voice.lang;
      utterance.rate = 0.9;
      var done = false;
      function finish() { if (!done) { done = true; resolve(); } }
      utterance.onend = finish;
      utterance.onerror = finish;
      setTimeout(finish, 3000 + text.length * 150);
      window.speechSynthesis.speak(utterance);
    });
  }

  function speak(call) {
    var language = cfg.language;
    var own = uploaded && uploaded[language] ? clipPlan(call, uploaded[language]) : null;
    var ownChime = uploaded && uploaded[language] && uploaded[language].chime;
    var chimed = ownChime ? playClips([uploadedUrl(language, "chime")]) : play(chime);
    if (own) {
      return chimed.then(function () {
        return playClips(own.map(function (key) { return uploadedUrl(language, key); }));
      });
    }
    var voice = pickVoice(language);
    var text = cfg.speech.call
      .replace("{ticket}", ticketWords(call.label).text)
      .replace("{counter}", counterWords(call.counter));
    if (voice) return chimed.then(function () { return speakWith(voice, text); });
    // No voice for the language: the set shipped with the server (French when none).
    var sets = cfg.voices.builtin;
    var setLanguage = sets[language] ? language : (sets.fr ? "fr" : null);
    var have = {};
    (builtinKeys[setLanguage] || []).forEach(function (key) { have[key] = true; });
    var plan = setLanguage ? clipPlan(call, have) : null;
    if (!plan) return chimed;
    return chimed.then(function () {
      return playClips(plan.map(function (key) { return sets[setLanguage] + key + ".ogg"; }));
    });
  }

  function announce(call) {
    var key = callKey(call);
    if (wasAnnounced(key)) return;
    markAnnounced(key);
    queue.push(call);
    window.__guichetAnnouncements = (window.__guichetAnnouncements || []).concat([call.label]);
    if (!speaking) next();
  }

  function next() {
    var call = queue.shift();
    if (!call) { speaking = false; return; }
    speaking = true;
    speak(call).then(next, next);
  }

  var builtinKeys = {};
  function loadVoices() {
    // The office's recordings (names only) and the keys of the built-in sets.
    fetch(cfg.voices.clips_url, { headers: { Authorization: "Bearer " + cfg.token } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var mine = {};
        (data.clips || []).forEach(function (clip) {
          (mine[clip.language] = mine[clip.language] || {})[clip.key] = true;
        });
        uploaded = mine;
        builtinKeys = data.builtin || {};
      })
      .catch(function () { /* retried on the next sync */ });
  }

  function probeSound() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (Context) {
      try {
        audioContext = new Context();
        if (audioContext.state === "suspended") soundBlocked(true);
        audioContext.onstatechange = function () {
          if (audioContext.state === "running") soundBlocked(false);
        };
      } catch (e) { audioContext = null; }
    }
    // A silent play: refused when the browser blocks sound without a gesture.
    chime.volume = 0;
    var tried = chime.play();
    if (tried && tried.then) {
      tried.then(function () {
        chime.pause();
        chime.volume = 1;
        chime.currentTime = 0;
        if (!audioContext || audioContext.state !== "suspended") soundBlocked(false);
      }, function (error) {
        chime.volume = 1;
        if (error && error.name === "NotAllowedError") soundBlocked(true);
      });
    } else {
      chime.volume = 1;
    }
  }

  function unlockSound() {
    if ($("sound-blocked").hidden) return;
    if (audioContext && audioContext.state === "suspended") audioContext.resume();
    chime.volume = 1;
    play(chime).then(function () {
      // The room hears the current call once the sound works.
      var current = state.calls[0];
      if (current && current.status === "called") {
        queue.push(current);
        if (!speaking) next();
      }
    });
    soundBlocked(false);
  }
  ["click", "touchstart", "keydown"].forEach(function (name) {
    document.addEventListener(name, unlockSound);
  });

  // --- the connection -----------------------------------------------------------------
  var socket = null;

  function sync(reason) {
    if (!socket || !socket.connected) return;
    var sentSeq = state.seq;
    socket.timeout(10000).emit("sync", { reason: reason || "" }, function (error, board) {
      if (error || !board || board.error) return;
      applyBoard(board, sentSeq);
    });
  }

  function start() {
    tick();
    setInterval(tick, 1000);
    renderCalls();
    // Chromium loads its voices on the first ask: ask now, not at the first call.
    if (window.speechSynthesis) window.speechSynthesis.getVoices();
    probeSound();
    loadVoices();
    if (typeof io === "undefined") { setOnline(false); return; }
    socket = io({
      auth: { token: cfg.token },
      // Also in the handshake's query: the server then counts this screen apart from
      // the phones of the waiting room (their number per address is bounded).
      query: { token: cfg.token },
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      timeout: 10000,
    });
    socket.on("connect", function () { setOnline(true); sync("connect"); loadVoices(); });
    socket.on("disconnect", function () { setOnline(false); });
    socket.on("connect_error", function (error) {
      setOnline(false);
      // The token was revoked: the page then says how to pair the screen.
      if (error && error.message === "unauthorized") window.location.reload();
    });
    socket.on("resync", function () { sync("resync"); });
    socket.on("ticket_called", onCall);
    socket.on("queue_changed", onCounts);
    socket.on("display_message", function (payload) { setMessage(payload.message); });
    socket.on("display_config", function (payload) {
      if (payload && payload.device === cfg.device) window.location.reload();
    });
    // Belt and braces: a full sync now and then, whatever happened to the events.
    setInterval(function () { sync("periodic"); }, 5 * 60 * 1000);
  }

  setOnline(false);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
