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
    // typing counts as activity: the countdown starts again, and the server hears of it (at most every
    // third of the idle time) unless a draft save already told it
    let toldAt = Date.now();
    function tell() {
      if (Date.now() - toldAt < Math.max(5, idle / 3) * 1000) { return; }
      toldAt = Date.now();
      fetch(body.dataset.keepaliveUrl, { method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin" });
    }
    document.addEventListener("input", function () { reset(); tell(); });
    document.addEventListener("change", function () { reset(); tell(); });
    document.addEventListener("eoms:activity", function (event) {
      reset();
      if (event.detail && event.detail.server) { toldAt = Date.now(); }
    });
    // The session is shared by the user's tabs: while this tab would warn, it asks the server how much time is
    // really left (at most every 2 s; work in another tab counts, asking does not), and leaves only when the
    // server says the time is up.
    let pending = false, askedAt = 0;
    function ask(then) {
      if (pending || Date.now() - askedAt < 2000) { return; }
      pending = true; askedAt = Date.now();
      fetch(body.dataset.idleUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { left: 0 }; })
        .catch(function () { return { left: 0 }; })
        .then(function (answer) {
          pending = false;
          const rest = Number(answer.left) || 0;
          deadline = Date.now() + rest * 1000;
          then(rest);
        });
    }
    setInterval(function () {
      const seconds = Math.ceil((deadline - Date.now()) / 1000);
      if (seconds <= 0) {
        ask(function (rest) {
          if (rest > 0) { return; }
          const back = window.location.pathname + window.location.search;
          window.location = body.dataset.logoutUrl + "&next=" + encodeURIComponent(back);
        });
      } else if (seconds <= warnAt) {
        ask(function () {});
      }
      warning.hidden = seconds > warnAt || seconds <= 0;
      left.textContent = String(Math.max(seconds, 0));
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
