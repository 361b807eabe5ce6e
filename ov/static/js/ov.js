/* Oficina Virtual: the little the pages need beyond htmx. No inline script, no eval. */
(function () {
  "use strict";
  var live = function () { return document.getElementById("avisos"); };

  function announce(text) {
    var region = live();
    if (!region) { return; }
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  /* After a swap, put the keyboard where the new content starts: the error summary if there is
     one, else an element marked data-focus, else the first heading. */
  document.addEventListener("htmx:after:swap", function (event) {
    var target = event.detail && event.detail.ctx && event.detail.ctx.target;
    if (typeof target === "string") { target = document.querySelector(target); }
    if (!target || !target.querySelector) { return; }
    var spot = target.querySelector(".error-summary, [data-focus], h1, h2");
    if (!spot || (document.activeElement && target.contains(document.activeElement) &&
        document.activeElement.matches("input, select, textarea"))) { return; }
    if (!spot.hasAttribute("tabindex")) { spot.setAttribute("tabindex", "-1"); }
    spot.focus();
    announce(spot.textContent.trim());
  });

  /* A server fault (5xx is not swapped) or a lost connection must not fail silently. */
  function trouble(message) {
    var banner = document.getElementById("fallo-conexion");
    if (!banner) {
      banner = document.createElement("p");
      banner.id = "fallo-conexion";
      banner.className = "notice-banner";
      banner.setAttribute("role", "alert");
      var main = document.getElementById("contenido");
      main.insertBefore(banner, main.firstChild);
    }
    banner.textContent = message;
    banner.hidden = false;
  }
  document.addEventListener("htmx:error", function () {
    trouble("No hay conexión con la Oficina Virtual. Revisa tu conexión e inténtalo de nuevo.");
  });
  document.addEventListener("htmx:response:error", function (event) {
    var response = event.detail && event.detail.ctx && event.detail.ctx.response;
    if (response && response.status >= 500) {
      trouble("No se pudo completar la operación. Inténtalo de nuevo en unos minutos.");
    }
  });
  document.addEventListener("htmx:before:request", function () {
    var banner = document.getElementById("fallo-conexion");
    if (banner) { banner.hidden = true; }
  });
})();
