// Public quality pages: bars drawn from data attributes (no style attributes in the markup).
(function () {
  "use strict";
  function clamp(value) { return Math.max(0, Math.min(100, parseFloat(value) || 0)); }
  document.querySelectorAll("[data-width]").forEach(function (bar) {
    bar.style.width = clamp(bar.getAttribute("data-width")) + "%";
  });
  document.querySelectorAll("[data-left]").forEach(function (mark) {
    mark.style.left = "calc(" + clamp(mark.getAttribute("data-left")) + "% - 1px)";
  });
})();
