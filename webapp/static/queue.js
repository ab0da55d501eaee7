// The 待办 queue on the portal: select rows for 签收所选 and drive the queue from the keyboard
// (j/k or arrows move, x ticks, c claims, o or Enter opens, / searches, ? shows the keys).
// Everything here is a shortcut to what the page's own links, forms and buttons do without JavaScript.
(function () {
  "use strict";

  const table = document.getElementById("queue-table");
  const help = document.getElementById("queue-help");
  const helpToggle = document.getElementById("queue-help-toggle");
  const search = document.getElementById("todo-q");
  const all = document.getElementById("queue-all");
  const count = document.querySelector("#queue-bulk-claim .queue-selected-count");
  const STORE = "eoms.queue.selected";
  if (!helpToggle) { return; }  // the 待办 panel is hidden

  // -- work arrived or left while the page is open (static/notify.js): offer to refresh the list ------------------
  // (a click, not an automatic reload: that would count as activity for the idle logout and lose the selection)
  const stale = document.getElementById("queue-stale");
  document.addEventListener("eoms:inbox", function (event) {
    if (!stale || !event.detail) { return; }
    stale.querySelector("span").textContent = stale.dataset.text.replace("__N__", String(event.detail.count));
    stale.hidden = false;
  });

  function rows() { return table ? Array.from(table.tBodies[0].rows) : []; }
  function boxes() { return rows().map(function (r) { return r.querySelector("input[name=task]"); }).filter(Boolean); }

  // -- selection for 签收所选 ------------------------------------------------------------------------------------
  function refresh() {
    const list = boxes();
    const ticked = list.filter(function (b) { return b.checked; }).length;
    if (count) { count.textContent = ticked ? "（" + ticked + "）" : ""; }
    if (all) {
      all.disabled = list.length === 0;
      all.checked = list.length > 0 && ticked === list.length;
      all.indeterminate = ticked > 0 && ticked < list.length;
    }
    rows().forEach(function (r) {
      const box = r.querySelector("input[name=task]");
      r.classList.toggle("is-ticked", Boolean(box && box.checked));
    });
  }
  if (all) {
    all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
      refresh();
    });
  }
  if (table) { table.addEventListener("change", refresh); }
  refresh();

  // -- the selected row ----------------------------------------------------------------------------------------
  let current = -1;
  function select(index) {
    const list = rows();
    if (!list.length) { return; }
    current = Math.max(0, Math.min(list.length - 1, index));
    list.forEach(function (r, i) {
      r.classList.toggle("is-selected", i === current);
      r.setAttribute("aria-selected", i === current ? "true" : "false");
    });
    list[current].scrollIntoView({ block: "nearest" });
    try { sessionStorage.setItem(STORE, list[current].dataset.task); } catch (e) { /* storage off: no memory */ }
  }
  function unselect() {
    rows().forEach(function (r) { r.classList.remove("is-selected"); r.removeAttribute("aria-selected"); });
    current = -1;
    try { sessionStorage.removeItem(STORE); } catch (e) { /* storage off */ }
  }
  function selected() { return current >= 0 ? rows()[current] : null; }
  // back from a claim (the page reloads): the same row stays selected
  try {
    const remembered = sessionStorage.getItem(STORE);
    const index = rows().findIndex(function (r) { return r.dataset.task === remembered; });
    if (index >= 0) { select(index); }
  } catch (e) { /* storage off */ }
  if (table) {
    table.addEventListener("click", function (event) {
      const row = event.target.closest("tbody tr");
      if (row) { select(rows().indexOf(row)); }
    });
  }

  // -- help ----------------------------------------------------------------------------------------------------
  function showHelp(show) {
    help.hidden = !show;
    helpToggle.setAttribute("aria-expanded", show ? "true" : "false");
  }
  helpToggle.addEventListener("click", function () { showHelp(help.hidden); });

  // -- keys ----------------------------------------------------------------------------------------------------
  function typing(target) {
    if (!target || !target.tagName) { return false; }
    if (target.isContentEditable) { return true; }
    const tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") { return true; }
    return tag === "input" && !["checkbox", "radio", "button", "submit", "reset"].includes(target.type);
  }
  function activates(target) {  // Enter on these does their own thing
    return Boolean(target && target.closest && target.closest("a, button, summary, input, select, textarea"));
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape" && event.target === search) { search.blur(); }
      return;
    }
    const row = selected();
    let handled = true;
    switch (event.key) {
      // the arrows move the selection once there is one (until then, and after Esc, they scroll the page)
      case "ArrowDown": case "ArrowUp":
        if (current >= 0) { select(current + (event.key === "ArrowDown" ? 1 : -1)); } else { handled = false; }
        break;
      case "j": case "k":
        if (rows().length) { select(current < 0 ? 0 : current + (event.key === "j" ? 1 : -1)); } else { handled = false; }
        break;
      case "x": {
        const box = row && row.querySelector("input[name=task]");
        if (box) { box.checked = !box.checked; refresh(); } else { handled = false; }
        break;
      }
      case "c": {
        const form = row && row.querySelector("form.queue-claim");
        if (form) { form.requestSubmit(); } else { handled = false; }
        break;
      }
      case "o": case "Enter":
        if (row && !(event.key === "Enter" && activates(event.target))) { window.location.href = row.dataset.href; }
        else { handled = false; }
        break;
      case "/":
        if (search) { search.focus(); search.select(); } else { handled = false; }
        break;
      case "?": showHelp(help.hidden); break;
      case "Escape":
        if (!help.hidden) { showHelp(false); } else if (current >= 0) { unselect(); } else { handled = false; }
        break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });
})();
