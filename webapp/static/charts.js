// Charts with ECharts (served locally): the supervisor's dashboard (#chart-data) and the statistics page
// (#stats-daily-data). Every chart's numbers are also in the table below it. Lines are straight between the
// points (never smoothed): a day without work is a point at 0, not a curve drawn through it.
(function () {
  "use strict";
  if (!window.echarts) { return; }

  function read(id) {
    const source = document.getElementById(id);
    return source ? JSON.parse(source.textContent) : null;
  }

  function chart(id, option) {
    const el = document.getElementById(id);
    if (!el) { return; }
    const instance = window.echarts.init(el);
    instance.setOption(Object.assign({ tooltip: { trigger: "axis" }, grid: { left: 48, right: 16, top: 24, bottom: 64 } }, option));
    window.addEventListener("resize", function () { instance.resize(); });
  }

  function line(name, values, extra) {
    return Object.assign({ name: name, type: "line", smooth: false, connectNulls: false, showSymbol: true,
                           symbolSize: 6, data: values }, extra || {});
  }

  function dashboard(data) {
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
      series: [line(label.done, days.map(function (d) { return d[1]; }), { areaStyle: {} })]
    });
    const handling = (data.handling || []).slice(0, 15);
    chart("chart-handling", {
      xAxis: { type: "category", data: handling.map(function (r) { return r.step; }), axisLabel: { rotate: 30 } },
      yAxis: { type: "value" }, legend: { data: [label.mean, label.p90], top: 0 },
      series: [{ name: label.mean, type: "bar", data: handling.map(function (r) { return r.mean_hours; }) },
               { name: label.p90, type: "bar", data: handling.map(function (r) { return r.p90_hours; }), itemStyle: { color: "#f59e0b" } }]
    });
  }

  function daily(data) {
    const labels = data.labels || [];
    const names = data.names || {};
    // within one year the axis shows MM-DD; the tooltip always names the full date
    const sameYear = labels.length > 0 && labels[0].slice(0, 4) === labels[labels.length - 1].slice(0, 4);
    chart("chart-daily", {
      legend: { data: [names.steps, names.orders], top: 0 },
      xAxis: { type: "category", boundaryGap: false, data: labels,
               axisLabel: { formatter: function (v) { return data.unit === "day" && sameYear ? v.slice(5) : v; } } },
      yAxis: { type: "value", minInterval: 1 },
      series: [line(names.steps, data.steps || []), line(names.orders, data.orders || [], { itemStyle: { color: "#2e7d32" } })]
    });
  }

  const board = read("chart-data");
  if (board) { dashboard(board); }
  const stats = read("stats-daily-data");
  if (stats) { daily(stats); }
})();
