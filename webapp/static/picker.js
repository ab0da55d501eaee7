// 转派/改派 target picker (templates/tasks/_transfer.html): an ARIA combobox over the people and posts the user may
// hand the task to. It asks GET <data-url>?q=… while the user types (debounced; a stale answer is dropped), moves
// with ↑ ↓, picks with Enter or a click, closes with Esc (a second Esc clears), and posts the pick as
// target=user:<username> / post:<code> in place of the name shown; a target typed in that form is posted as typed.
(function () {
  "use strict";
  const DELAY = 200;
  const TYPED = /^(user|post):\S+$/;

  document.querySelectorAll("[data-picker]").forEach(setup);

  function setup(box) {
    const input = box.querySelector("input[name=target]");
    const pop = box.querySelector(".picker-pop");
    const list = pop.querySelector("[role=listbox]");
    const note = pop.querySelector(".picker-note");
    const status = box.querySelector("[role=status]");
    const chosenLine = document.getElementById(input.id + "-chosen");
    const error = document.getElementById(input.id + "-error");
    const texts = JSON.parse(document.getElementById(box.dataset.texts).textContent);
    const form = input.form;
    let items = [], active = -1, chosen = null, timer = 0, asked = 0, controller = null;
    let pending = false;  // typed since the list was drawn: its items are not the answer yet

    input.removeAttribute("list");  // our list replaces the browser's suggestions
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    document.getElementById(input.id + "-help").textContent = texts.help;

    input.addEventListener("input", function () {
      unchoose();
      clearTimeout(timer);
      timer = setTimeout(search, DELAY);
      pending = true;
      unmark();
      pop.setAttribute("aria-busy", "true");
    });
    input.addEventListener("click", function () { if (pop.hidden) { search(); } });
    input.addEventListener("keydown", onKey);
    input.addEventListener("blur", close);
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });  // keep the focus
    list.addEventListener("click", function (event) {
      const option = event.target.closest("[role=option]");
      if (option) { pick(Number(option.dataset.index)); }
    });
    form.addEventListener("submit", function (event) {
      if (chosen || TYPED.test(input.value.trim())) { return; }
      event.preventDefault();
      error.textContent = texts.pick;
      error.hidden = false;
      input.focus();
      search();
    });
    form.addEventListener("formdata", function (event) {
      if (chosen) { event.formData.set("target", chosen.value); }
    });

    function onKey(event) {
      const open = !pop.hidden;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!open || pending) { search(); return; }  // the answer to what was typed first
        move(event.key === "ArrowDown" ? 1 : -1);
      } else if (event.key === "Enter" && (open || pending)) {
        event.preventDefault();  // Enter in an open list chooses; it sends the form only when the list is closed
        if (pending) { search(); } else if (active >= 0) { pick(active); } else if (items.length === 1) { pick(0); }
      } else if (event.key === "Escape") {
        if (open) { close(); } else if (input.value) { input.value = ""; unchoose(); }
        event.preventDefault();
      } else if (event.key === "Tab") {
        close();
      }
    }

    function search() {
      clearTimeout(timer);
      const ticket = ++asked;
      if (controller) { controller.abort(); }
      controller = new AbortController();
      const url = box.dataset.url + "?q=" + encodeURIComponent(input.value.trim());
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: controller.signal })
        .then(function (response) {
          const json = (response.headers.get("Content-Type") || "").indexOf("json") >= 0;
          if (!response.ok || !json) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (answer) { if (ticket === asked) { show(answer.items || [], answer.total || 0); } })
        .catch(function (err) { if (ticket === asked && err.name !== "AbortError") { failed(); } });
    }

    function show(found, total) {
      items = found;
      pending = false;
      pop.removeAttribute("aria-busy");
      unmark();
      list.replaceChildren.apply(list, items.map(option));
      const hidden = total - items.length;
      note.textContent = items.length ? (hidden > 0 ? texts.more.replace("__N__", String(hidden)) : "") : texts.empty;
      note.hidden = !note.textContent;
      status.textContent = items.length ? texts.found.replace("__N__", String(items.length)) : texts.empty;
      if (document.activeElement === input) { open(); }
    }

    function option(item, index) {
      const li = document.createElement("li");
      li.id = list.id + "-" + index;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.index = String(index);
      li.dataset.value = item.value;
      li.className = "picker-option picker-" + item.kind;
      const name = document.createElement("span");
      name.className = "picker-name";
      name.textContent = item.label;
      const kind = document.createElement("span");
      kind.className = "picker-kind";
      kind.textContent = texts[item.kind] || item.kind;
      const detail = document.createElement("span");
      detail.className = "picker-detail";
      detail.textContent = item.detail;
      li.append(name, kind, detail);
      return li;
    }

    function failed() {
      items = [];
      pending = false;
      pop.removeAttribute("aria-busy");
      list.replaceChildren();
      note.textContent = texts.failed;
      note.hidden = false;
      status.textContent = texts.failed;
      open();
    }

    function move(step) {
      if (!items.length) { return; }
      active = active < 0 ? (step > 0 ? 0 : items.length - 1) : (active + step + items.length) % items.length;
      list.querySelectorAll("[role=option]").forEach(function (li, index) {
        li.setAttribute("aria-selected", String(index === active));
      });
      const current = document.getElementById(list.id + "-" + active);
      input.setAttribute("aria-activedescendant", current.id);
      current.scrollIntoView({ block: "nearest" });
    }

    function pick(index) {
      chosen = items[index];
      input.value = chosen.label;
      close();
      chosenLine.textContent = texts.chosen.replace("__TARGET__", chosen.label + " · " + chosen.detail);
      chosenLine.hidden = false;
      error.hidden = true;
    }

    function unchoose() {
      chosen = null;
      chosenLine.hidden = true;
    }

    function open() {
      pop.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function close() {
      pop.hidden = true;
      unmark();
      input.setAttribute("aria-expanded", "false");
    }

    function unmark() {
      active = -1;
      input.removeAttribute("aria-activedescendant");
      list.querySelectorAll("[aria-selected=true]").forEach(function (li) { li.setAttribute("aria-selected", "false"); });
    }
  }
})();
