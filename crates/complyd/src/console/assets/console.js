// complyd console: live updates. The server sends "changed" on /console/events when something
// of the tenant may have changed; the page fetches itself again and swaps the parts marked
// data-live (same id), so forms being filled in are left alone.
(function () {
  "use strict";
  if (!window.EventSource || !document.querySelector("[data-live]")) {
    return;
  }
  var status = document.getElementById("live-status");
  var busy = false;
  var again = false;

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Console-Live": "1" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (part) {
          var replacement = part.id && fresh.getElementById(part.id);
          if (replacement) {
            part.innerHTML = replacement.innerHTML;
          }
        });
        if (status) {
          status.textContent = "Updated at " + new Date().toLocaleTimeString();
        }
      })
      .catch(function () {
        if (status) {
          status.textContent = "Live updates paused.";
        }
      })
      .finally(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var events = new EventSource("/console/events");
  events.addEventListener("changed", refresh);
  document.body.setAttribute("data-live-connected", "true");
})();
