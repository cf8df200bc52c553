// Live dashboard: applies server-rendered fragments from the event stream; the page works without it.
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root || !window.EventSource) { return; }
  var source = new EventSource(root.dataset.stream + "?after=" + encodeURIComponent(root.dataset.last));
  source.addEventListener("update", function (event) {
    var update = JSON.parse(event.data);
    // A changed program adds, moves or cancels rooms: the page is built again, filters kept.
    if (update.reason === "program") { source.close(); window.location.reload(); return; }
    if (update.card) {
      var card = document.getElementById("card-" + update.card.key);
      if (card) { card.outerHTML = update.card.html; }
    }
    // Counters and alerts come with the last update of each batch the server sends.
    if ("counters" in update) { document.getElementById("counters").innerHTML = update.counters; }
    if ("alerts" in update) { document.getElementById("alerts").innerHTML = update.alerts; }
    root.dataset.last = event.lastEventId;
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  });
})();
