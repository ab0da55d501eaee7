// Two versions of a diagram side by side (bpmn-js viewer, served locally): what was removed or changed is
// coloured on the old one, what was added or changed on the new one. Data: #diff-data {old, new, added,
// removed, changed}.
(function () {
  "use strict";
  const holder = document.getElementById("diff-data");
  if (!holder || !window.BpmnJS) { return; }
  const data = JSON.parse(holder.textContent || "{}");
  const zh = (document.documentElement.lang || "zh").indexOf("zh") === 0;

  function show(containerId, url, marks) {
    const container = document.getElementById(containerId);
    const viewer = new window.BpmnJS({ container: container });
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        const canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
        canvas.zoom("fit-viewport");
        Object.keys(marks).forEach(function (kind) {
          marks[kind].forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "eoms-diff-" + kind); } });
        });
        container.dataset.ready = "true";
        return viewer;
      })
      .catch(function (error) {
        container.textContent = (zh ? "流程图加载失败：" : "The diagram could not be shown: ") + error.message;
        container.dataset.ready = "error";
      });
  }

  const changed = Object.keys(data.changed || {});
  Promise.all([
    show("diff-old", data.old, { removed: data.removed || [], changed: changed }),
    show("diff-new", data.new, { added: data.added || [], changed: changed }),
  ]).then(function (viewers) {
    document.querySelectorAll("#diff-table tr[data-id]").forEach(function (row) {
      row.addEventListener("click", function () {
        viewers.forEach(function (viewer) {
          if (!viewer) { return; }
          const element = viewer.get("elementRegistry").get(row.dataset.id);
          if (element) { viewer.get("canvas").scrollToElement(element); }
        });
      });
    });
  });
})();
