// 延期 dialog (tasks/_extension.html): extend by hours/days or to a new deadline. While the user types, the new
// deadline is asked from the server (GET …/extension/preview, debounced), which counts it on the step's own
// calendar; a bad value is named in Chinese beside its field (the form is novalidate: no browser bubble).
// The server checks everything again when the form is sent.
(function () {
  "use strict";

  const form = document.getElementById("extension-form");
  if (!form) { return; }
  const said = JSON.parse(document.getElementById("extension-messages").textContent);
  const amount = form.elements.namedItem("amount");
  const unit = form.elements.namedItem("unit");
  const until = form.elements.namedItem("until");
  const reason = form.elements.namedItem("reason");
  const preview = document.getElementById("extension-preview");
  const shown = {
    due: document.getElementById("extension-new"), added: document.getElementById("extension-added"),
    warning: document.getElementById("extension-warning"),
  };
  const errors = {
    amount: document.getElementById("extension-amount-error"), unit: document.getElementById("extension-amount-error"),
    until: document.getElementById("extension-until-error"), reason: document.getElementById("extension-reason-error"),
  };
  const inputs = { amount: amount, unit: unit, until: until, reason: reason };
  const max = { hours: Number(form.dataset.maxHours), days: Number(form.dataset.maxDays) };
  const touched = new Set();
  let timer = null, controller = null, seq = 0, answered = null;

  form.classList.add("ext-js");

  function mode() {
    const checked = form.querySelector('input[name="mode"]:checked');
    return checked ? checked.value : "by";
  }

  function showMode() {
    form.querySelectorAll("[data-part]").forEach(function (part) { part.hidden = part.dataset.part !== mode(); });
  }

  function setError(field, message) {
    const box = errors[field] || errors[mode() === "until" ? "until" : "amount"];
    box.textContent = message;
    box.hidden = false;
    box.closest(".field").classList.add("field-error");
    const input = inputs[field];
    if (input) { input.setAttribute("aria-invalid", "true"); }
  }

  function clearError(field) {
    const box = errors[field];
    box.textContent = "";
    box.hidden = true;
    box.closest(".field").classList.remove("field-error");
    inputs[field].removeAttribute("aria-invalid");
    if (field === "amount") { unit.removeAttribute("aria-invalid"); }
  }

  // the same checks as the server's (webapp/tasks/extension.py Typed.arguments), in the same words
  function problem() {
    if (mode() === "until") {
      return until.value ? null : { field: "until", message: said.until_required };
    }
    const text = amount.value.normalize("NFKC").trim();
    if (!text) { return { field: "amount", message: said.amount_required }; }
    if (!/^[+-]?\d+$/.test(text)) { return { field: "amount", message: said.amount_integer }; }
    const number = parseInt(text, 10);
    if (number <= 0) { return { field: "amount", message: said.amount_positive }; }
    if (number > max[unit.value]) { return { field: "amount", message: said["amount_max_" + unit.value] }; }
    return null;
  }

  function query() {
    const params = new URLSearchParams({ mode: mode() });
    if (mode() === "until") { params.set("until", until.value); } else {
      params.set("amount", amount.value.normalize("NFKC").trim());
      params.set("unit", unit.value);
    }
    return params.toString();
  }

  function hidePreview() { preview.hidden = true; preview.classList.remove("ext-pending"); }

  function render(body) {
    shown.due.textContent = body.due_at_local;
    shown.added.textContent = body.added || "";
    shown.warning.textContent = body.warning || "";
    shown.warning.hidden = !body.warning;
    preview.dataset.iso = body.iso;
    preview.dataset.input = body.input || "";
    preview.classList.remove("ext-pending");
    preview.hidden = false;
  }

  function refresh() {
    clearTimeout(timer);
    const field = mode() === "until" ? "until" : "amount";
    if (controller) { controller.abort(); controller = null; }
    const found = problem();
    if (found) {
      answered = null;
      hidePreview();
      if (touched.has(found.field)) { setError(found.field, found.message); } else { clearError(found.field); }
      return;
    }
    clearError(field);
    const key = query(), mine = ++seq;
    controller = new AbortController();
    shown.due.textContent = said.pending;
    shown.added.textContent = "";
    shown.warning.hidden = true;
    preview.classList.add("ext-pending");
    preview.hidden = false;
    fetch(form.dataset.previewUrl + "?" + key, {
      credentials: "same-origin", headers: { Accept: "application/json" }, signal: controller.signal,
    }).then(function (response) {
      const type = response.headers.get("Content-Type") || "";
      if (!type.includes("application/json")) { throw new Error("not JSON"); }
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (mine !== seq) { return; }
      answered = { key: key, ok: answer.ok, body: answer.body };
      if (answer.ok) { render(answer.body); } else {
        hidePreview();
        setError(answer.body.field || field, answer.body.message);
      }
    }).catch(function (err) {
      if (err.name === "AbortError" || mine !== seq) { return; }
      answered = null;
      shown.due.textContent = said.failed;
      preview.classList.remove("ext-pending");
    });
  }

  function later() { clearTimeout(timer); timer = setTimeout(refresh, 300); }

  amount.addEventListener("input", function () { touched.add("amount"); later(); });
  until.addEventListener("input", function () { touched.add("until"); later(); });
  until.addEventListener("change", function () { touched.add("until"); refresh(); });
  unit.addEventListener("change", function () { if (amount.value) { touched.add("amount"); } refresh(); });
  reason.addEventListener("input", function () { if (reason.value.trim()) { clearError("reason"); } });
  amount.addEventListener("keydown", function (event) {  // ↑/↓ step the number, as a number field would
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") { return; }
    const current = parseInt(amount.value.normalize("NFKC"), 10) || 0;
    const next = Math.min(Math.max(current + (event.key === "ArrowUp" ? 1 : -1), 1), max[unit.value]);
    amount.value = String(next);
    touched.add("amount");
    event.preventDefault();
    later();
  });
  form.querySelectorAll('input[name="mode"]').forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (mode() === "until" && !until.value && preview.dataset.input && !preview.hidden) {
        until.value = preview.dataset.input;  // start from the deadline the duration gave
      }
      clearError("amount"); clearError("until");
      showMode();
      refresh();
    });
  });

  form.addEventListener("submit", function (event) {
    if (form.dataset.sending) { event.preventDefault(); return; }  // a double click sends once
    touched.add(mode() === "until" ? "until" : "amount");
    touched.add("reason");
    let found = problem();
    if (!found && answered && answered.key === query() && !answered.ok) {
      found = { field: answered.body.field || (mode() === "until" ? "until" : "amount"),
                message: answered.body.message };
    }
    if (!found && !reason.value.trim()) { found = { field: "reason", message: said.reason_required }; }
    if (found) {
      event.preventDefault();
      setError(found.field, found.message);
      (inputs[found.field] || amount).focus();
      return;
    }
    form.dataset.sending = "1";
  });
  window.addEventListener("pageshow", function () { delete form.dataset.sending; });  // back to the page

  showMode();
  if ((mode() === "by" && amount.value) || (mode() === "until" && until.value)) {
    touched.add(mode() === "until" ? "until" : "amount");
    refresh();
  }
})();
