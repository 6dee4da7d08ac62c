/* WageCheck portal, CSO round page: refresh the live response counts every few seconds.
   Progressive: without JavaScript the page works the same, with a "Refresh now" link.
   Counts only (never answers); stops while the tab is hidden; no third-party code. */
(function () {
  "use strict";
  var box = document.querySelector("[data-live-src]");
  if (!box || !window.fetch) { return; }
  var seconds = parseInt(box.getAttribute("data-live-seconds"), 10) || 30;
  var src = box.getAttribute("data-live-src");
  var busy = false;

  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) { box.innerHTML = html; })
      .catch(function () { /* keep the last counts; the next tick tries again */ })
      .then(function () { busy = false; });
  }

  window.setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(); }
  });
})();
