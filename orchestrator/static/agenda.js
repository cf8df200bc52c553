// The agenda works without this script; it adds the time in the browser's own zone and a
// countdown to when an upcoming session's link opens.
(function () {
  "use strict";
  var root = document.querySelector(".agenda");
  if (!root || !window.Intl) { return; }
  var here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  var lang = root.dataset.lang || "en";
  var format = new Intl.DateTimeFormat(lang, { weekday: "long", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  document.querySelectorAll(".session").forEach(function (item) {
    if (here && here !== root.dataset.zone) {
      var local = item.querySelector(".local");
      local.textContent = root.dataset.msgLocal.replace("{time}", format.format(new Date(item.dataset.start)));
      local.hidden = false;
    }
  });
  // Count from the server's clock, so a browser whose clock is off still counts right.
  var skew = root.dataset.now ? new Date(root.dataset.now).getTime() - Date.now() : 0;
  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll(".state-upcoming").forEach(function (item) {
      var minutes = Math.ceil((new Date(item.dataset.opens).getTime() - now) / 60000);
      var countdown = item.querySelector(".countdown");
      if (!countdown) { return; }
      countdown.textContent = minutes > 0 ? root.dataset.msgOpensIn.replace("{minutes}", String(minutes)) : root.dataset.msgOpen;
    });
  }
  tick();
  window.setInterval(tick, 30000);
})();
