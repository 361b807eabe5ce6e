/* Signed-in pages only: warn before the session ends for inactivity (WCAG 2.2.1) and offer
   "Seguir conectado". The server is the judge of the session's life; this only helps.

   The dialog waits in a <template> and is in the page only while it is open. A closed
   <dialog> in the page would be taken for a swapped-in one and opened at once whenever the
   whole body is swapped, which is what htmx does on Back (a history restore). The template
   is read again each time, so a restored body's settings and return address are used. */
(function () {
  "use strict";
  var TEMPLATE_ID = "plantilla-aviso-sesion";
  var warnTimer = null;
  var endTimer = null;
  var shown = null;

  function model() {
    var template = document.getElementById(TEMPLATE_ID);
    return template && template.content ? template.content.firstElementChild : null;
  }

  function seconds(dialog, name) {
    return Number(dialog.getAttribute(name)) * 1000;
  }

  /* Past the end, the server has closed the session: show the login page, which says why. */
  function toLogin() {
    var dialog = model();
    if (dialog) { window.location.assign(dialog.getAttribute("data-login")); }
  }

  function keepAlive(event) {
    var form = event.target;
    var dialog = form.closest("dialog");
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
        toLogin();
      }
    }, function () {
      dialog.close();
    });
  }

  function show() {
    var source = model();
    if (!source || (shown && shown.isConnected)) { return; }
    var dialog = document.importNode(source, true);
    dialog.querySelector("form").addEventListener("submit", keepAlive);
    dialog.addEventListener("close", function () {
      dialog.remove();
      if (shown === dialog) { shown = null; }
    });
    shown = dialog;
    document.body.appendChild(dialog);
    dialog.showModal();
  }

  function restart() {
    window.clearTimeout(warnTimer);
    window.clearTimeout(endTimer);
    var dialog = model();
    if (!dialog) { return; }  /* the page no longer belongs to a signed-in session */
    var idle = seconds(dialog, "data-idle");
    warnTimer = window.setTimeout(show, Math.max(idle - seconds(dialog, "data-warn"), 0));
    endTimer = window.setTimeout(toLogin, idle + 2000);
  }

  var first = model();
  if (!first || typeof first.showModal !== "function") { return; }

  /* Every request to the server counts as activity. */
  document.addEventListener("htmx:after:request", restart);
  /* A page brought back from the browser's memory (back/forward cache) made no request: its
     timers and its content are stale, and it is private, so ask the server for it again. */
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });
  restart();
})();
