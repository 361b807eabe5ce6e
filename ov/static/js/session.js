/* Signed-in pages only: warn before the session ends for inactivity (WCAG 2.2.1) and offer
   "Seguir conectado". The server is the judge of the session's life; this only helps. */
(function () {
  "use strict";
  var dialog = document.getElementById("aviso-sesion");
  if (!dialog || !dialog.showModal) { return; }
  var idle = Number(dialog.getAttribute("data-idle")) * 1000;
  var warn = Number(dialog.getAttribute("data-warn")) * 1000;
  var warnTimer = null;
  var endTimer = null;

  function restart() {
    window.clearTimeout(warnTimer);
    window.clearTimeout(endTimer);
    warnTimer = window.setTimeout(function () {
      if (!dialog.open) { dialog.showModal(); }
    }, Math.max(idle - warn, 0));
    /* Past the end, the server has closed the session: show the login page, which says why. */
    endTimer = window.setTimeout(function () {
      window.location.assign(dialog.getAttribute("data-login"));
    }, idle + 2000);
  }

  var form = dialog.querySelector("form");
  form.addEventListener("submit", function (event) {
    if (!window.fetch) { return; }
    event.preventDefault();
    window.fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-Sesion": "seguir" }
    }).then(function (response) {
      if (response.status === 204) {
        dialog.close();
        restart();
      } else {
        window.location.assign(dialog.getAttribute("data-login"));
      }
    }, function () {
      dialog.close();
    });
  });

  /* Every request to the server counts as activity. */
  document.addEventListener("htmx:after:request", restart);
  restart();
})();
