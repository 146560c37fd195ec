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
