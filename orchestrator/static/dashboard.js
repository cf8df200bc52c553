// Live dashboard: applies server-rendered fragments from the event stream; the page works without it.
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root || !window.EventSource) { return; }
  var source = new EventSource(root.dataset.stream + "?after=" + encodeURIComponent(root.dataset.last));
  // The server's clock (the demo's runs fast), as of its latest word, against the browser's.
  var offset = Date.parse(root.dataset.now) - Date.now();
  // Minutes of the running rooms, counted on from the server's clock between updates.
  function countMinutes() {
    var now = Date.now() + offset;
    var shown = root.querySelectorAll(".elapsed[data-since]");
    for (var i = 0; i < shown.length; i++) {
      var minutes = Math.max(0, Math.floor((now - Date.parse(shown[i].dataset.since)) / 60000));
      shown[i].textContent = shown[i].dataset.format.replace("{minutes}", String(minutes));
    }
  }
  window.setInterval(countMinutes, 15000);
  source.addEventListener("clock", function (event) {
    offset = Date.parse(JSON.parse(event.data).now) - Date.now();
    countMinutes();
  });
  source.addEventListener("update", function (event) {
    var update = JSON.parse(event.data);
    // A changed program adds, moves or cancels rooms, and an erased person leaves every card:
    // the page is built again, filters kept.
    if (update.reason === "program" || update.reason === "forget") {
      source.close(); window.location.reload(); return;
    }
    if (update.card) {
      var card = document.getElementById("card-" + update.card.key);
      if (card) {
        // A plenary's list of everyone stays open across updates if the organiser opened it.
        var list = card.querySelector("details.everyone");
        var open = list !== null && list.open;
        card.outerHTML = update.card.html;
        if (open) {
          var again = document.querySelector("#card-" + update.card.key + " details.everyone");
          if (again) { again.open = true; }
        }
      }
    }
    // Counters and alerts come with the last update of each batch the server sends.
    if ("counters" in update) { document.getElementById("counters").innerHTML = update.counters; }
    if ("alerts" in update) { document.getElementById("alerts").innerHTML = update.alerts; }
    root.dataset.last = event.lastEventId;
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  });
})();
