// The workspace's upload: says the file is being checked while a large event takes seconds,
// and keeps the button from sending it twice.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (!form) { return; }
  form.addEventListener("submit", function () {
    var progress = document.getElementById("upload-progress");
    var button = form.querySelector("button[type=submit]");
    progress.textContent = form.getAttribute("data-checking");
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
  });
})();

// A scheduling run: how it goes, every second and a half, until it is over; then the page again,
// with what came of it. Without this script, the page's Refresh link does the same.
(function () {
  "use strict";
  var status = document.getElementById("run-status");
  if (!status || !window.fetch) { return; }
  function poll() {
    fetch(status.getAttribute("data-poll"), { credentials: "same-origin" })
      .then(function (answer) { return answer.json(); })
      .then(function (run) {
        if (!run.running) { window.location.assign(window.location.pathname); return; }
        status.textContent = run.said;
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1500);
})();
