// The form designer: form-js's editor with a live preview in form-js's viewer (both served locally).
// Data: #form-data {schema, saveUrl, csrfToken, formKey}. Saving posts {schema}; the server checks the schema as
// deploy does and answers {ok, issues}.
(function () {
  "use strict";
  const holder = document.getElementById("form-data");
  if (!holder || !window.FormEditor || !window.FormViewer) { return; }
  const data = JSON.parse(holder.textContent || "{}");
  const zh = (document.documentElement.lang || "zh").indexOf("zh") === 0;
  const state = document.getElementById("form-state");
  const issues = document.getElementById("form-issues");
  const editor = new window.FormEditor.FormEditor({ container: document.getElementById("form-editor") });
  const preview = new window.FormViewer.Form({ container: document.getElementById("form-preview") });
  let timer = null;

  function say(text, kind) { state.textContent = text; state.dataset.kind = kind || ""; }
  function refresh() {
    const schema = editor.getSchema();
    preview.importSchema(schema, {}).catch(function (error) { say((zh ? "预览失败：" : "Preview failed: ") + error.message, "error"); });
  }
  function list(found) {
    issues.textContent = "";
    (found || []).forEach(function (issue) {
      const li = document.createElement("li");
      li.textContent = (issue.rule_text ? issue.rule_text + "：" : "") + issue.message;
      issues.appendChild(li);
    });
  }

  editor.importSchema(data.schema).then(function () {
    refresh();
    document.body.dataset.formEditorReady = "1";
  }).catch(function (error) {
    say((zh ? "表单无法打开：" : "The form could not be opened: ") + error.message, "error");
    document.body.dataset.formEditorError = error.message;
  });
  editor.on("changed", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
    say(zh ? "有未保存的修改" : "Unsaved changes", "dirty");
  });
  document.getElementById("form-save").addEventListener("click", function () {
    say(zh ? "保存中…" : "Saving…");
    fetch(data.saveUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": data.csrfToken },
      body: JSON.stringify({ schema: editor.getSchema() }),
    }).then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
      .then(function (result) {
        const ok = result[0], body = result[1];
        list(body.issues);
        if (ok && body.ok) {
          say((zh ? "已保存 " : "Saved ") + new Date(body.saved_at).toLocaleTimeString(), "saved");
          document.body.dataset.formSaved = "1";
        } else {
          say((zh ? "保存失败：" : "Not saved: ") + (body.error || (zh ? "表单有问题，见下方" : "see the problems below")), "error");
        }
      })
      .catch(function (error) { say((zh ? "保存失败：" : "Not saved: ") + error.message, "error"); });
  });
  window.eomsFormDesigner = { editor: editor, preview: preview };
})();
