// Task forms with the form-js viewer (bpmn.io, served locally from /vendor/form-viewer.js): the post holder sees
// the form as the analyst designed it (conditions, rows and columns, groups, dynamic lists, tables, texts). The
// server's own fields stay in the page, hidden, as the form without JavaScript. On submit the viewer's data goes
// into a hidden input "form_json" of the same form, which posts as always (CSRF token, button, file inputs); the
// server validates it against the same schema and sends the page back with each error beside its field.
// Filepicker fields are not in the viewer: their server block (attachments to choose, a file input) stays visible.
// No inline script: the data comes from <script type="application/json"> blocks (the CSP allows files only).
(function () {
  "use strict";
  const host = document.getElementById("form-viewer");
  const form = host && document.getElementById(host.dataset.form);
  const serverFields = document.getElementById("server-fields");
  if (!host || !form || !serverFields || !window.FormViewer) { return; }
  const zh = (document.documentElement.lang || "zh").indexOf("zh") === 0;

  const TEXT = zh ? {
    summary: "请按提示修改以下内容：", row: function (n) { return "第 " + n + " 行"; },
    failed: "表单显示失败，已改用普通表单。"
  } : {
    summary: "Please correct the following:", row: function (n) { return "row " + n; },
    failed: "The form could not be shown; the plain form is used instead."
  };
  // what form-js itself writes, for Chinese pages (its own texts are English only)
  const MESSAGES = [
    [/^Field is required\.$/, "必填"],
    [/^Field must have minimum length of (.+)\.$/, "至少 $1 个字符"],
    [/^Field must have maximum length of (.+)\.$/, "最多 $1 个字符"],
    [/^Field must have minimum value of (.+)\.$/, "不能小于 $1"],
    [/^Field must have maximum value of (.+)\.$/, "不能大于 $1"],
    [/^Field must match pattern .*$/, "格式不正确"],
    [/^Field must be a valid email\.$/, "不是有效的电子邮箱"],
    [/^Field must be a valid +international phone number\..*$/, "不是有效的电话号码（如 +8613912345678）"],
    [/^Value is not a number\.$/, "应为数字"],
    [/^Value is expected to be an integer\.$/, "应为整数"],
    [/^Value is expected to have at most (\d+) decimal digits?\.$/, "最多 $1 位小数"],
    [/^Please select a valid value, the two nearest valid values are (.+) and (.+)\.$/, "请输入有效值，最接近的为 $1 和 $2"]
  ];
  const LABELS = [
    [/^Select$/, "请选择"], [/^Search$/, "搜索"], [/^Add new$/, "添加一行"], [/^Collapse$/, "收起"],
    [/^Expand all \((\d+)\)$/, "展开全部（$1）"]
  ];

  function translate(text, table) {
    if (!zh || typeof text !== "string") { return text; }
    for (let i = 0; i < table.length; i++) {
      if (table[i][0].test(text)) { return text.replace(table[i][0], table[i][1]); }
    }
    return text;
  }

  function read(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent || "null") : null;
  }

  // -- paths: the server names a field "key" or "list[0].key"; form-js names it by id and row indexes ------
  function find(components, key) {
    for (let i = 0; i < (components || []).length; i++) {
      const c = components[i];
      if (c.type === "group" && !c.path) {
        const inner = find(c.components, key);
        if (inner) { return inner; }
      } else if ((c.type === "dynamiclist" ? c.path || c.key : c.key) === key) {
        return c;
      }
    }
    return null;
  }

  function locate(schema, path) {
    let components = schema.components, rest = path;
    const indexes = [], labels = [];
    for (;;) {
      const match = /^([^.[\]]+)(?:\[(\d+)\]\.(.+))?$/.exec(rest);
      const c = match && find(components, match[1]);
      if (!c) { return null; }
      labels.push(c.label || match[1]);
      if (match[3] === undefined) { return { id: c.id, indexes: indexes, label: labels.join(" · ") }; }
      if (c.type !== "dynamiclist") { return null; }
      indexes.push(Number(match[2]));
      labels.push(TEXT.row(Number(match[2]) + 1));
      components = c.components;
      rest = match[3];
    }
  }

  function byId(schema) {  // field id → its label and the labels of the lists it sits in
    const found = {};
    (function walk(components, parents) {
      (components || []).forEach(function (c) {
        const label = c.label || c.key || c.path || c.id;
        if (c.id) { found[c.id] = { label: label, parents: parents }; }
        if (c.components) { walk(c.components, c.type === "dynamiclist" ? parents.concat([label]) : parents); }
      });
    })(schema.components, []);
    return found;
  }

  function getPath(target, path) {
    return path.reduce(function (at, key) { return at === undefined || at === null ? undefined : at[key]; }, target);
  }

  function setPath(target, path, value) {
    let at = target;
    path.forEach(function (key, i) {
      if (i === path.length - 1) { at[key] = value; return; }
      if (at[key] === undefined || at[key] === null) { at[key] = typeof path[i + 1] === "number" ? [] : {}; }
      at = at[key];
    });
  }

  function isMessages(value) {
    return Array.isArray(value) && value.every(function (m) { return typeof m === "string"; });
  }

  function flatErrors(errors) {  // form-js's {id: [..]} or {id: [[..], …]} (by row) → [[id, rows, messages]]
    const out = [];
    Object.keys(errors || {}).forEach(function (id) {
      (function walk(value, rows) {
        if (isMessages(value)) {
          if (value.length) { out.push([id, rows, value]); }
        } else if (value && typeof value === "object") {
          Object.keys(value).forEach(function (k) { walk(value[k], rows.concat([Number(k)])); });
        }
      })(errors[id], []);
    });
    return out;
  }

  // -- the list of problems above the viewer ----------------------------------------------------------------
  const summary = document.createElement("div");
  summary.className = "alert alert-error form-viewer-summary";
  summary.setAttribute("role", "alert");
  summary.tabIndex = -1;
  summary.hidden = true;

  let listed = [];  // what the list shows: {label, message, path: [id, row…] in the viewer's errors, or null}

  function showSummary(items) {
    listed = items;
    summary.textContent = "";
    summary.hidden = !items.length;
    if (!items.length) { return; }
    const title = document.createElement("p");
    title.textContent = TEXT.summary;
    const list = document.createElement("ul");
    items.forEach(function (item) {
      const li = document.createElement("li");
      const label = document.createElement("b");
      label.textContent = item.label;
      li.appendChild(label);
      li.appendChild(document.createTextNode((zh ? "：" : ": ") + item.message));
      list.appendChild(li);
    });
    summary.appendChild(title);
    summary.appendChild(list);
  }

  function pruneSummary(errors) {  // a problem the user has fixed leaves the list
    const left = listed.filter(function (item) {
      const messages = item.path ? getPath(errors, item.path) : null;
      return !item.path || isMessages(messages) && messages.length > 0;
    });
    if (left.length !== listed.length) { showSummary(left); }
  }

  // -- the server's fields: filepicker blocks stay (moved next to the viewer), the rest is hidden -------------
  function swapServerFields() {
    const files = document.createElement("div");
    files.id = "form-viewer-files";
    files.className = "form-viewer-files";
    serverFields.querySelectorAll("input[type=file]").forEach(function (input) {
      const block = input.closest(".field");
      if (block && !block.closest(".repeat-row")) { files.appendChild(block); }
    });
    serverFields.parentNode.insertBefore(files, serverFields);
    serverFields.hidden = true;
    serverFields.querySelectorAll("input, select, textarea, button").forEach(function (el) { el.disabled = true; });
  }

  function restoreServerFields() {
    const files = document.getElementById("form-viewer-files");
    if (files) {
      while (files.firstChild) { serverFields.appendChild(files.firstChild); }
      files.remove();
    }
    serverFields.hidden = false;
    serverFields.querySelectorAll("input, select, textarea, button").forEach(function (el) { el.disabled = false; });
  }

  function serverLabel(path) {  // a field the viewer does not show: its label in the server's form
    const input = document.getElementById("f-" + path);
    const label = document.querySelector('label[for="f-' + path.replace(/["\\]/g, "\\$&") + '"]') ||
      (input && input.closest("label"));
    return label ? label.textContent.trim() : path;
  }

  // -- form-js's own texts in the page's language -----------------------------------------------------------
  function localizeTexts(root) {
    if (!zh) { return; }
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.data.trim();
      const changed = text && translate(text, LABELS);
      if (changed && changed !== text) { node.data = node.data.replace(text, changed); }
    }
    root.querySelectorAll("[placeholder]").forEach(function (el) {
      const changed = translate(el.getAttribute("placeholder"), LABELS);
      if (changed !== el.getAttribute("placeholder")) { el.setAttribute("placeholder", changed); }
    });
  }

  // -- mounting -------------------------------------------------------------------------------------------
  const schema = read("form-viewer-schema");
  const data = read("form-viewer-data") || {};
  const sentBack = read("form-viewer-errors") || {};
  // no input debounce: what was typed is in the viewer's data at once, whichever way the form is sent
  const viewer = new window.FormViewer.Form({ container: host, debounce: false });
  const validator = viewer.get("validator");
  const validate = validator.validateFieldInstance.bind(validator);
  validator.validateFieldInstance = function (instance, value) {
    return validate(instance, value).map(function (message) { return translate(message, MESSAGES); });
  };

  viewer.importSchema(schema, data).then(function () {
    const imported = viewer._getState().schema;
    const fields = byId(imported);
    const pending = {};  // server errors still shown in the viewer: "id|row…" → [path, message]
    const fromServer = [];
    Object.keys(sentBack).forEach(function (path) {
      const place = locate(imported, path);
      if (path === "form_json" || !place && document.getElementById("f-" + path)) {
        return;  // shown in its own block, which stays visible (the form data, a filepicker field)
      }
      const at = place ? [place.id].concat(place.indexes) : null;
      fromServer.push({ label: place ? place.label : serverLabel(path), message: sentBack[path], path: at });
      if (at) { pending[at.join("|")] = [at, sentBack[path]]; }
    });

    function keepServerErrors() {  // until the field is changed, a server error stays beside it
      if (typeof viewer._setState !== "function") { return; }
      const errors = JSON.parse(JSON.stringify(viewer._getState().errors || {}));
      let changed = false;
      Object.keys(pending).forEach(function (key) {
        const path = pending[key][0], message = pending[key][1];
        const current = getPath(errors, path);
        const messages = isMessages(current) ? current : [];
        if (messages.indexOf(message) < 0) { setPath(errors, path, messages.concat([message])); changed = true; }
      });
      if (changed) { viewer._setState({ errors: errors }); }
    }
    viewer.on("field.updated", function (update) {
      const instance = update.fieldInstance || {};
      delete pending[[instance.id].concat(Object.values(instance.indexes || {})).join("|")];
    });
    let told = null;  // the data drafts.js last heard of (none until the import is done)
    viewer.on("changed", function () {
      keepServerErrors();
      pruneSummary(viewer._getState().errors || {});
      const now = JSON.stringify(viewer._getState().data);
      if (told !== null && now !== told) {  // drafts.js keeps what the user types, not what the import set
        told = now;
        host.dispatchEvent(new CustomEvent("eoms:form-changed", { detail: { data: viewer._getState().data } }));
      }
    });

    host.parentNode.insertBefore(summary, host);
    showSummary(fromServer);
    swapServerFields();
    host.hidden = false;
    keepServerErrors();
    localizeTexts(host);
    new MutationObserver(function () { localizeTexts(host); })
      .observe(host, { childList: true, subtree: true, characterData: true });
    host.dataset.ready = "true";
    told = JSON.stringify(viewer._getState().data);

    // a submit button of the form-js form sends the page's form, as the page's own button does
    let own = false;
    viewer.on("submit", function () {
      if (own) { return; }
      const button = form.querySelector("button[type=submit]");
      setTimeout(function () { if (form.requestSubmit) { form.requestSubmit(button); } else { button.click(); } }, 0);
    });

    form.addEventListener("submit", function (event) {
      if (broken) { return; }
      let result;
      own = true;
      try {
        result = viewer.submit();
      } catch (error) {  // the viewer broke: back to the server's fields, which the user sends instead
        event.preventDefault();
        fallBack(error);
        return;
      } finally {
        own = false;
      }
      const problems = flatErrors(result.errors);
      if (problems.length) {
        event.preventDefault();
        showSummary(problems.map(function (problem) {
          const field = fields[problem[0]] || { label: problem[0], parents: [] };
          const where = field.parents.map(function (parent, i) {
            return parent + " · " + TEXT.row(problem[1][i] + 1);
          }).concat([field.label]);
          return { label: where.join(" · "), message: problem[2].join(zh ? "；" : "; "),
                   path: [problem[0]].concat(problem[1]) };
        }));
        summary.focus();
        summary.scrollIntoView({ block: "start" });
        return;
      }
      let input = form.querySelector('input[name="form_json"]');
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = "form_json";
        form.appendChild(input);
      }
      input.value = JSON.stringify(result.data);
    });
  }).catch(fallBack);

  let broken = false;
  function fallBack(error) {
    broken = true;
    try { viewer.destroy(); } catch (ignored) { /* already gone */ }
    restoreServerFields();
    host.hidden = true;
    summary.hidden = true;
    host.dataset.ready = "error";
    const note = document.createElement("p");
    note.className = "alert alert-warning";
    note.textContent = TEXT.failed;
    host.parentNode.insertBefore(note, host);
    window.console.error("form-js viewer:", error);
  }
})();
