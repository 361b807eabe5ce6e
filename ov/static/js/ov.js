/* Oficina Virtual: the little the pages need beyond htmx. No inline script, no eval.
   Everything here is an enhancement: without it, links and forms work as plain HTML. */
(function () {
  "use strict";
  var FOCUS_ORDER = [".error-summary", "[data-focus]", "h1", "h2"];
  var lastOpener = null;

  function announce(text) {
    var region = document.getElementById("avisos");
    if (!region) { return; }
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }
  window.ovAnnounce = announce;  /* for the blocks below */

  function firstOf(root, selectors) {
    for (var i = 0; i < selectors.length; i++) {
      var found = root.querySelector(selectors[i]);
      if (found) { return found; }
    }
    return null;
  }

  function targetOf(event) {
    var ctx = event.detail && event.detail.ctx;
    var target = ctx && ctx.target;
    if (typeof target === "string") { target = document.querySelector(target); }
    if (target && !target.isConnected && target.id) {
      target = document.getElementById(target.id);  /* an outerHTML swap: its successor */
    }
    return target && target.isConnected ? target : null;
  }

  /* A swapped-in <dialog> opens as a modal; closing it returns focus to what opened it. */
  function openDialog(dialog) {
    var opener = lastOpener;
    var source = opener && opener.getAttribute("data-dialog");
    dialog.addEventListener("close", function () {
      /* A swap may have replaced the opener meanwhile (inline validation): find it again. */
      if (opener && !opener.isConnected && source) {
        opener = document.querySelector('[data-dialog="' + source + '"]');
      }
      if (opener) { opener.focus(); }
    }, { once: true });
    dialog.showModal();
  }

  /* After a swap, put the keyboard where the new content starts: the error summary first,
     then an element marked data-focus, then the heading. Inline validation swaps one
     field (class "field") or its message, and leaves the focus where the customer is. */
  document.addEventListener("htmx:after:swap", function (event) {
    var source = event.detail && event.detail.ctx && event.detail.ctx.sourceElement;
    if (source && source.getAttribute && source.getAttribute("data-hx-trigger") === "load") {
      return;  /* a lazy part arriving by itself: the customer did not ask, stay put */
    }
    var target = targetOf(event);
    if (!target || target.closest(".field")) { return; }
    var dialog = target.querySelector("dialog:not([open])");
    if (dialog) { openDialog(dialog); return; }
    var spot = firstOf(target, FOCUS_ORDER);
    if (!spot) { return; }
    if (!spot.hasAttribute("tabindex")) { spot.setAttribute("tabindex", "-1"); }
    spot.focus();
    if (spot.getAttribute("role") !== "alert") {  /* an alert is announced already */
      announce(spot.textContent.replace(/\s+/g, " ").trim());
    }
  });

  /* Buttons and links marked data-dialog="URL" open that URL's dialog fragment in place;
     without JavaScript they do their plain job (follow the link, submit the form). */
  document.addEventListener("click", function (event) {
    var opener = event.target.closest ? event.target.closest("[data-dialog]") : null;
    if (!opener || !window.htmx) { return; }
    var host = document.getElementById(opener.getAttribute("data-dialog-host") || "dialogo");
    if (!host) { return; }
    event.preventDefault();
    lastOpener = opener;
    window.htmx.ajax("GET", opener.getAttribute("data-dialog"), { target: host, swap: "innerHTML" });
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
      trouble("No se pudo completar la operación. Tus datos siguen en el formulario: " +
        "inténtalo de nuevo en unos minutos.");
    }
  });
  document.addEventListener("htmx:before:request", function () {
    var banner = document.getElementById("fallo-conexion");
    if (banner) { banner.hidden = true; }
  });
})();

/* --- Signing in (auth): "Mostrar contraseña" on password fields marked
   data-ver-contrasena. The button exists only with JavaScript; it says its state with
   aria-pressed and never changes its label. --- */
(function () {
  "use strict";
  function addToggles(root) {
    var inputs = root.querySelectorAll("input[data-ver-contrasena]:not([data-ver-listo])");
    Array.prototype.forEach.call(inputs, function (input) {
      input.setAttribute("data-ver-listo", "");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link-button toggle-password";
      button.textContent = "Mostrar contraseña";
      button.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-controls", input.id);
      button.addEventListener("click", function () {
        var show = input.type === "password";
        input.type = show ? "text" : "password";
        button.setAttribute("aria-pressed", show ? "true" : "false");
      });
      input.insertAdjacentElement("afterend", button);
    });
  }
  /* A shown password is hidden again before the form is sent (no autofill as plain text). */
  document.addEventListener("submit", function (event) {
    var shown = event.target.querySelectorAll("input[data-ver-contrasena][type=text]");
    Array.prototype.forEach.call(shown, function (input) { input.type = "password"; });
  }, true);
  document.addEventListener("htmx:after:swap", function () { addToggles(document); });
  addToggles(document);
})();

/* --- Copy buttons: a number marked data-copiar (a payment reference, a CLABE) gets a
   button that copies its digits, only where JavaScript has a clipboard (secure pages); it
   says so through the page's live region, and beside the button for the eyes. --- */
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) { return; }
  function addCopyButtons(root) {
    var sources = root.querySelectorAll("[data-copiar]:not([data-copiar-listo])");
    Array.prototype.forEach.call(sources, function (source) {
      source.setAttribute("data-copiar-listo", "");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button--secondary copy-button";
      button.textContent = source.getAttribute("data-copiar-boton");
      var label = document.getElementById(source.id + "-titulo");
      if (label) { button.setAttribute("aria-describedby", label.id); }
      var done = document.createElement("span");
      done.className = "copy-done";
      done.setAttribute("aria-hidden", "true");
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.getAttribute("data-copiar")).then(function () {
          done.textContent = source.getAttribute("data-copiado");
          window.ovAnnounce(done.textContent);
        }, function () {
          done.textContent = "";
          window.ovAnnounce("No se pudo copiar: selecciona los números y cópialos.");
        });
      });
      var line = document.createElement("p");
      line.className = "copy-line";
      line.appendChild(button);
      line.appendChild(done);
      source.insertAdjacentElement("afterend", line);
    });
  }
  document.addEventListener("htmx:after:swap", function () { addCopyButtons(document); });
  addCopyButtons(document);

  /* A photo chosen for a form (input[data-photo]) that weighs more than a megabyte is
     redrawn here at most 1600 px wide and sent as a JPEG of a few hundred KB: a slow
     connection sends a tenth of it. The server re-encodes whatever arrives anyway; without
     this (no JavaScript, an old browser) the original is sent. */
  var PHOTO_SIDE = 1600;
  var PHOTO_SHRINK_ABOVE = 1024 * 1024;
  function megabytes(bytes) { return (bytes / 1048576).toFixed(1).replace(".", ",") + " MB"; }
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-photo]")) { return; }
    var file = input.files && input.files[0];
    var status = document.getElementById(input.getAttribute("data-photo"));
    if (status) { status.textContent = ""; }
    if (!file || file.size <= PHOTO_SHRINK_ABOVE || !/^image\/(jpeg|png)$/.test(file.type) ||
        !window.createImageBitmap || !window.DataTransfer) { return; }
    if (status) { status.textContent = "Preparando la foto para enviarla…"; }
    window.createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      if (bitmap.close) { bitmap.close(); }
      canvas.toBlob(function (blob) {
        if (!blob || blob.size >= file.size || input.files[0] !== file) {
          if (status) { status.textContent = ""; }
          return;
        }
        var transfer = new DataTransfer();
        transfer.items.add(new File([blob], "foto.jpg", { type: "image/jpeg" }));
        input.files = transfer.files;
        if (status) {
          status.textContent = "Foto lista: la reducimos de " + megabytes(file.size) +
            " a " + Math.ceil(blob.size / 1024) + " KB para enviarla más rápido.";
        }
      }, "image/jpeg", 0.82);
    }).catch(function () {
      if (status) { status.textContent = ""; }  /* the server judges the original */
    });
  });
})();
