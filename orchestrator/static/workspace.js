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
