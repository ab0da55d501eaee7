// EOMS page behaviour (no inline scripts: the Content-Security-Policy allows only files from 'self').
(function () {
  "use strict";

  // -- idle logout countdown: the server logs out after EOMS_IDLE_LOGOUT_SECONDS; this warns first ----------
  const body = document.body;
  const idle = parseInt(body.dataset.idleSeconds || "0", 10);
  if (idle > 0) {
    const warning = document.getElementById("idle-warning");
    const left = document.getElementById("idle-left");
    const warnAt = Math.min(30, Math.max(5, Math.floor(idle / 3)));
    let deadline = Date.now() + idle * 1000;
    const csrf = JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
    function reset() { deadline = Date.now() + idle * 1000; warning.hidden = true; }
    document.getElementById("idle-stay").addEventListener("click", function () {
      fetch(body.dataset.keepaliveUrl, { method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin" })
        .then(function (r) { if (r.ok) { reset(); } else { window.location = body.dataset.logoutUrl; } });
    });
    document.addEventListener("htmx:afterRequest", reset);
    setInterval(function () {
      const seconds = Math.ceil((deadline - Date.now()) / 1000);
      if (seconds <= 0) { window.location = body.dataset.logoutUrl; return; }
      if (seconds <= warnAt) { warning.hidden = false; left.textContent = String(seconds); }
    }, 500);
  }

  // -- repeating form rows (form-js dynamiclist) -------------------------------------------------------------
  document.addEventListener("click", function (event) {
    const add = event.target.closest("[data-repeat-add]");
    if (add) {
      const list = document.getElementById(add.dataset.repeatAdd);
      const template = list.querySelector("template");
      const index = list.querySelectorAll(".repeat-row").length;
      const html = template.innerHTML.replace(/__INDEX__/g, String(index));
      template.insertAdjacentHTML("beforebegin", html);
      event.preventDefault();
    }
    const remove = event.target.closest("[data-repeat-remove]");
    if (remove) { remove.closest(".repeat-row").remove(); event.preventDefault(); }
    const confirmer = event.target.closest("[data-confirm]");
    if (confirmer && !window.confirm(confirmer.dataset.confirm)) { event.preventDefault(); }
  });

  // -- a submit button disables itself, so a double click sends one request ----------------------------------
  document.addEventListener("submit", function (event) {
    const button = event.submitter;
    if (button && !event.defaultPrevented) {
      setTimeout(function () { button.disabled = true; }, 0);
    }
  });
})();
