// Administration pages: dashboard charts (Chart.js), and small conveniences.
// Everything works without this script; it only draws and shortens clicks.
(function () {
  "use strict";

  var GREEN = "#0b6e4f", GREEN_SOFT = "rgba(11,110,79,.18)", BLUE = "#1f5fa8", AMBER = "#e29a1d";
  var RATING_COLORS = ["#c0392b", "#e67e22", "#d4a017", "#6ab04c", "#0b6e4f"];

  // A select that shows its choice at once (no inline handlers: the CSP forbids them).
  document.querySelectorAll("[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Meters: widths from data attributes (no style attributes in the markup).
  document.querySelectorAll(".meter span[data-width]").forEach(function (bar) {
    var value = Math.max(0, Math.min(100, parseFloat(bar.getAttribute("data-width")) || 0));
    bar.style.width = value + "%";
  });

  // The devices page follows who is online: its table is fetched again every 15 s
  // (the forms in it keep working: the rows come from the same page).
  var liveDevices = document.querySelector("[data-live-devices]");
  if (liveDevices && window.fetch && window.DOMParser) {
    var refreshDevices = function () {
      if (document.hidden) return;
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var table = fresh.querySelector("[data-live-devices] tbody");
          var current = liveDevices.querySelector("tbody");
          if (table && current && current.innerHTML !== table.innerHTML) {
            current.innerHTML = table.innerHTML;
          }
          var banner = fresh.querySelector("[data-ops-alerts]");
          var shown = document.querySelector("[data-ops-alerts]");
          if (shown && !banner) shown.remove();
          else if (banner && shown) shown.innerHTML = banner.innerHTML;
          else if (banner) {
            var content = document.querySelector(".admin-content");
            if (content) content.insertBefore(document.importNode(banner, true), content.firstChild);
          }
        })
        .catch(function () { /* offline: the next round tries again */ });
    };
    setInterval(refreshDevices, 15000);
  }

  // Forms that destroy or revoke ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // Copy a token or a pairing address.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target || !navigator.clipboard) return;
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        var label = button.textContent;
        button.textContent = button.getAttribute("data-copied") || "✓";
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });

  // Commitment rows: the service only applies to waiting times.
  document.querySelectorAll("[data-commitment-row]").forEach(function (row) {
    var kind = row.querySelector("select[name$='-kind']");
    var service = row.querySelector("select[name$='-service']");
    if (!kind || !service) return;
    function sync() { service.disabled = kind.value !== "wait"; }
    kind.addEventListener("change", sync);
    sync();
  });

  // Opening hours: copy Monday's periods to the other working days.
  var copyMonday = document.querySelector("[data-copy-monday]");
  if (copyMonday) {
    copyMonday.addEventListener("click", function () {
      ["tuesday", "wednesday", "thursday", "friday"].forEach(function (day) {
        for (var i = 0; i < 3; i++) {
          ["start", "end"].forEach(function (edge) {
            var from = document.getElementById("monday_" + i + "_" + edge);
            var to = document.getElementById(day + "_" + i + "_" + edge);
            if (from && to) to.value = from.value;
          });
        }
      });
    });
  }

  // Opening hours: the weekly grid only matters when the office keeps weekly hours.
  var modes = document.querySelectorAll("input[data-hours-mode]");
  var weekly = document.querySelector("[data-weekly-hours]");
  if (modes.length && weekly) {
    var syncHours = function () {
      var chosen = document.querySelector("input[data-hours-mode]:checked");
      var show = !chosen || chosen.value === "weekly";
      weekly.hidden = !show;
      if (copyMonday) copyMonday.hidden = !show;
    };
    modes.forEach(function (input) { input.addEventListener("change", syncHours); });
    syncHours();
  }

  // A choice that shows only its own fields (a device's kind, an SMS gateway):
  // the boxes of the same form marked data-for-kinds="a b" show for "a" and "b".
  document.querySelectorAll("select[data-toggles]").forEach(function (select) {
    var scope = select.form || document;
    var sync = function () {
      scope.querySelectorAll("[data-for-kinds]").forEach(function (box) {
        box.hidden = box.getAttribute("data-for-kinds").split(" ").indexOf(select.value) < 0;
      });
    };
    select.addEventListener("change", sync);
    sync();
  });

  var block = document.getElementById("dashboard-data");
  if (!block || typeof Chart === "undefined") return;
  var data = JSON.parse(block.textContent);
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#44515e";
  Chart.defaults.animation = false;
  // Numbers in the page's language: 1,9 in French (Intl.NumberFormat under the hood).
  Chart.defaults.locale = document.documentElement.lang || "fr";

  function empty(canvas, message) {
    var box = canvas.parentNode;
    var note = document.createElement("p");
    note.className = "chart-empty";
    note.textContent = message;
    box.replaceChild(note, canvas);
  }

  var timeline = document.getElementById("chart-timeline");
  if (timeline) {
    var series = data.series || [];
    var any = series.some(function (p) { return p.issued || p.served; });
    if (!any) {
      empty(timeline, timeline.getAttribute("data-empty") || "—");
    } else {
      new Chart(timeline, {
        data: {
          labels: series.map(function (p) { return p.label; }),
          datasets: [
            { type: "bar", label: data.labels.issued, data: series.map(function (p) { return p.issued; }),
              backgroundColor: GREEN_SOFT, borderColor: GREEN, borderWidth: 1, yAxisID: "y", order: 3 },
            { type: "bar", label: data.labels.served, data: series.map(function (p) { return p.served; }),
              backgroundColor: GREEN, yAxisID: "y", order: 2 },
            { type: "line", label: data.labels.wait, data: series.map(function (p) { return p.wait; }),
              borderColor: BLUE, backgroundColor: BLUE, yAxisID: "minutes", tension: 0.25,
              spanGaps: true, pointRadius: 3, order: 1 },
            { type: "line", label: data.labels.p90, data: series.map(function (p) { return p.p90; }),
              borderColor: AMBER, backgroundColor: AMBER, borderDash: [5, 4], yAxisID: "minutes",
              tension: 0.25, spanGaps: true, pointRadius: 2, order: 0 }
          ]
        },
        options: {
          maintainAspectRatio: false,
          interaction: { mode: "index", intersect: false },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
          scales: {
            y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#eef1f4" } },
            minutes: { position: "right", beginAtZero: true, grid: { display: false },
                       title: { display: true, text: "min" } },
            x: { grid: { display: false } }
          }
        }
      });
    }
  }

  var ratings = document.getElementById("chart-ratings");
  if (ratings) {
    var counts = [1, 2, 3, 4, 5].map(function (r) { return data.ratings[String(r)] || 0; });
    if (!counts.some(function (n) { return n > 0; })) {
      empty(ratings, ratings.getAttribute("data-empty") || "—");
    } else {
      new Chart(ratings, {
        type: "bar",
        data: {
          labels: ["1", "2", "3", "4", "5"],
          datasets: [{ label: data.labels.ratings, data: counts, backgroundColor: RATING_COLORS, borderRadius: 6 }]
        },
        options: {
          maintainAspectRatio: false,
          plugins: { legend: { display: false } },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#eef1f4" } },
                    x: { grid: { display: false } } }
        }
      });
    }
  }
})();
