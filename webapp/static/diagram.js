// Draws a deployed BPMN diagram with bpmn-js (served locally) and marks it up:
//  instance mode: done / current / overdue steps, how many times each ran, mean time, time left;
//  heatmap mode: per step count, mean, p90 and overdue rate, coloured by mean duration.
(function () {
  "use strict";
  const container = document.getElementById("diagram");
  if (!container || !window.BpmnJS) { return; }
  const data = JSON.parse(document.getElementById("overlay-data").textContent || "{}");
  const zh = (document.documentElement.lang || "zh").indexOf("zh") === 0;

  function text(value) { const span = document.createElement("span"); span.textContent = value; return span.innerHTML; }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "—"; }
    const s = Math.abs(seconds), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (s < 60) { return zh ? "不足1分钟" : "under a minute"; }
    if (zh) { return (d ? d + "天" : "") + (h ? h + "小时" : "") + ((m || (!d && !h)) ? m + "分" : ""); }
    return [d ? d + " d" : "", h ? h + " h" : "", (m || (!d && !h)) ? m + " min" : ""].filter(Boolean).join(" ");
  }

  const viewer = new window.BpmnJS({ container: container });
  fetch(container.dataset.diagramUrl, { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      const canvas = viewer.get("canvas");
      const overlays = viewer.get("overlays");
      const registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport");
      if (canvas.zoom() < 0.75) {  // a wide pool: keep the labels readable and let the user drag to pan
        const box = canvas.viewbox(), width = container.clientWidth / 0.75, height = container.clientHeight / 0.75;
        const focus = Object.keys(data).map(function (id) { return registry.get(id); }).filter(function (el) {
          return el && ["current", "overdue"].indexOf(data[el.id].state) >= 0;
        })[0];
        const x = focus ? focus.x + focus.width / 2 - width / 2 : box.inner.x - 20;
        const y = focus ? focus.y + focus.height / 2 - height / 2 : box.inner.y - 30;
        canvas.viewbox({ x: Math.max(x, box.inner.x - 20), y: Math.max(y, box.inner.y - 30), width: width, height: height });
      }
      Object.keys(data).forEach(function (id) {
        if (!registry.get(id)) { return; }
        const node = data[id];
        let html;
        if (container.dataset.mode === "heatmap") {
          canvas.addMarker(id, "eoms-heat-" + node.heat);
          const rate = node.overdue_rate === null ? "—" : (node.overdue_rate * 100).toFixed(0) + "%";
          html = "<div class='eoms-badge eoms-badge-heat'>" + node.count + " · " + text(duration(node.mean_seconds)) +
                 " · P90 " + text(duration(node.p90_seconds)) + " · " + rate + "</div>";
        } else {
          canvas.addMarker(id, "eoms-" + node.state);
          let label = "×" + node.runs;
          if (node.mean_seconds) { label += " · " + duration(node.mean_seconds); }
          (node.open || []).forEach(function (open) {
            if (open.seconds_left !== null) {
              label += open.seconds_left < 0 ? (zh ? " · 超时 " : " · overdue ") + duration(open.seconds_left)
                                              : (zh ? " · 剩余 " : " · left ") + duration(open.seconds_left);
            }
          });
          html = "<div class='eoms-badge eoms-badge-" + node.state + "'>" + text(label) + "</div>";
        }
        // heatmap badges sit above the box, instance badges just below it: neither covers the step's name
        const position = container.dataset.mode === "heatmap" ? { top: 0, left: 0 } : { bottom: -4, left: 0 };
        overlays.add(id, { position: position, html: html });
      });
      container.dataset.ready = "true";
    })
    .catch(function (error) {
      container.textContent = (zh ? "流程图加载失败：" : "The diagram could not be shown: ") + error.message;
      container.dataset.ready = "error";
    });
})();
