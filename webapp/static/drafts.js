// Drafts of a task's form (no inline scripts: the CSP allows only files from 'self'). What the user types is
// saved on the server a moment after they stop typing (and every few seconds while they type); each save is
// activity, so typing keeps the session alive and an idle logout finds everything saved; after logging in
// again the task page shows it restored.
(function () {
  "use strict";
  const form = document.getElementById("complete-form");
  if (!form || !form.dataset.draftUrl) { return; }
  const status = document.getElementById("draft-status");
  const zh = document.documentElement.lang !== "en";
  const TEXT = zh ? { saving: "正在保存草稿…", failed: "草稿未能保存：" } : { saving: "Saving draft…", failed: "Draft not saved: " };
  let viewerData = null;   // the form-js viewer's data, when the viewer shows the form
  let dirty = false, timer = 0, lastSave = 0, inFlight = false;
  const QUIET_MS = 1500, EVERY_MS = 5000;

  function payload() {
    const data = new FormData();
    for (const [name, value] of new FormData(form).entries()) {
      if (typeof value === "string" && name !== "form_json") { data.append(name, value); }  // never the files
    }
    if (viewerData !== null) { data.append("form_json", JSON.stringify(viewerData)); }
    return data;
  }

  function save() {
    clearTimeout(timer);
    if (!dirty || inFlight) { return; }
    dirty = false; inFlight = true; lastSave = Date.now();
    if (status) { status.textContent = TEXT.saving; }
    fetch(form.dataset.draftUrl, { method: "POST", body: payload(), credentials: "same-origin",
                                   headers: { Accept: "application/json" } })
      .then(function (r) {
        // a server that failed (5xx, or no JSON answer) is asked again a moment later: what was typed is not
        // lost because the user stopped typing; a refusal (the task cannot take a draft, too big) is final
        if (r.status >= 500) { dirty = true; }
        return r.json().catch(function () { dirty = true; return { saved: false, message: String(r.status) }; });
      })
      .then(function (answer) {
        if (status) { status.textContent = answer.saved ? answer.message : TEXT.failed + (answer.message || ""); }
        document.dispatchEvent(new CustomEvent("eoms:activity", { detail: { server: true } }));
      })
      .catch(function () { if (status) { status.textContent = TEXT.failed; } dirty = true; })
      .then(function () { inFlight = false; if (dirty) { schedule(); } });
  }

  function schedule() {
    dirty = true;
    clearTimeout(timer);
    timer = setTimeout(save, Date.now() - lastSave > EVERY_MS ? 0 : QUIET_MS);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  const viewer = document.getElementById("form-viewer");
  if (viewer) {
    viewer.addEventListener("eoms:form-changed", function (event) { viewerData = event.detail.data; schedule(); });
  }
  // nothing typed is lost when the page is left either
  window.addEventListener("pagehide", function () {
    if (dirty) { navigator.sendBeacon(form.dataset.draftUrl, payload()); dirty = false; }
  });
  form.addEventListener("submit", function () { dirty = false; clearTimeout(timer); });
})();
