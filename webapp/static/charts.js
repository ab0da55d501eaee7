// Dashboard charts with ECharts (served locally); every chart's numbers are also in the table below it.
(function () {
  "use strict";
  const source = document.getElementById("chart-data");
  if (!source || !window.echarts) { return; }
  const data = JSON.parse(source.textContent);
  function chart(id, option) {
    const el = document.getElementById(id);
    if (!el) { return; }
    const instance = window.echarts.init(el);
    instance.setOption(Object.assign({ tooltip: { trigger: "axis" }, grid: { left: 48, right: 16, top: 24, bottom: 64 } }, option));
    window.addEventListener("resize", function () { instance.resize(); });
  }
  const label = data.labels || {};
  const open = data.open || [];
  chart("chart-open", {
    xAxis: { type: "category", data: open.map(function (r) { return r.step; }), axisLabel: { rotate: 30 } },
    yAxis: { type: "value", minInterval: 1 }, legend: { data: [label.open, label.overdue], top: 0 },
    series: [{ name: label.open, type: "bar", data: open.map(function (r) { return r.open; }) },
             { name: label.overdue, type: "bar", data: open.map(function (r) { return r.overdue; }), itemStyle: { color: "#c62828" } }]
  });
  const days = data.throughput || [];
  chart("chart-throughput", {
    xAxis: { type: "category", data: days.map(function (d) { return d[0].slice(5); }) }, yAxis: { type: "value", minInterval: 1 },
    series: [{ name: label.done, type: "line", smooth: true, areaStyle: {}, data: days.map(function (d) { return d[1]; }) }]
  });
  const handling = (data.handling || []).slice(0, 15);
  chart("chart-handling", {
    xAxis: { type: "category", data: handling.map(function (r) { return r.step; }), axisLabel: { rotate: 30 } },
    yAxis: { type: "value" }, legend: { data: [label.mean, label.p90], top: 0 },
    series: [{ name: label.mean, type: "bar", data: handling.map(function (r) { return r.mean_hours; }) },
             { name: label.p90, type: "bar", data: handling.map(function (r) { return r.p90_hours; }), itemStyle: { color: "#f59e0b" } }]
  });
})();
