// Slipway web UI: the few things the server-rendered pages hand to the browser (charts, Plotly figures, downloads).
(function () {
  "use strict";
  const palette = ["#2f6fde", "#e4572e", "#29a35a", "#9b59b6", "#f0a202", "#17becf", "#d6336c", "#7f7f7f", "#8c564b", "#bcbd22"];
  let plotlyLoading = null;

  // Exponential moving average, as TensorBoard and ClearML smooth (debiased at the start).
  function smooth(ys, weight) {
    if (!weight) return ys;
    const out = new Array(ys.length);
    let last = 0, n = 0;
    for (let i = 0; i < ys.length; i++) {
      const y = ys[i];
      if (y == null || !isFinite(y)) { out[i] = y; continue; }
      last = last * weight + (1 - weight) * y; n++;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  // series: [{label, x: [...], y: [...]}]; uPlot wants one shared x array, so series are joined on x.
  function tableOf(series, weight) {
    if (series.length === 0) return [[]];
    const tables = series.map(s => [s.x, smooth(s.y, weight)]);
    return tables.length === 1 ? tables[0] : uPlot.join(tables);
  }

  function sizeOf(el) {
    const w = Math.max(240, el.clientWidth || el.parentElement.clientWidth || 480);
    return { width: w, height: 260 };
  }

  window.slipway = {
    // spec: {series, xTime, log, smoothing}; dotnet (optional) gets Zoom(min, max) and answers finer series.
    lineChart(el, spec, dotnet) {
      if (el._chart) { el._chart.destroy(); el._chart = null; }
      el._spec = spec;
      const opts = {
        ...sizeOf(el),
        scales: { x: { time: !!spec.xTime }, y: spec.log ? { distr: 3 } : {} },
        series: [{ label: spec.xTime ? "time" : "iteration" }].concat(spec.series.map((s, i) => ({
          label: s.label, stroke: s.color || palette[i % palette.length], width: 1.5, spanGaps: true, points: { show: false },
        }))),
        axes: [{}, { size: 60 }],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
        hooks: {
          setSelect: [u => {
            if (!dotnet || u.select.width < 2) return;
            const min = u.posToVal(u.select.left, "x"), max = u.posToVal(u.select.left + u.select.width, "x");
            dotnet.invokeMethodAsync("Zoom", min, max).then(series => {
              if (series && el._chart === u) { u.setData(tableOf(series, el._spec.smoothing), false); u.setScale("x", { min, max }); }
            });
          }],
        },
      };
      const chart = new uPlot(opts, tableOf(spec.series, spec.smoothing), el);
      el._chart = chart;
      el.ondblclick = () => { if (dotnet) dotnet.invokeMethodAsync("Zoom", null, null).then(s => { if (s) chart.setData(tableOf(s, el._spec.smoothing)); }); };
      if (!el._resize) {
        el._resize = new ResizeObserver(() => { if (el._chart) el._chart.setSize(sizeOf(el)); });
        el._resize.observe(el);
      }
    },

    // How many points each chart holds, for tests and for people checking what they see.
    pointCount(el) {
      const u = el && el._chart;
      return u ? u.data.slice(1).reduce((n, ys) => n + ys.filter(v => v != null).length, 0) : 0;
    },

    async plotly(el, figure) {
      if (!window.Plotly) {
        plotlyLoading = plotlyLoading || new Promise((resolve, reject) => {
          const s = document.createElement("script");
          s.src = document.querySelector("meta[name=slipway-plotly]").content;
          s.onload = resolve; s.onerror = reject;
          document.head.appendChild(s);
        });
        await plotlyLoading;
      }
      const layout = Object.assign({ autosize: true, margin: { t: 36, r: 16, b: 40, l: 56 } }, figure.layout || {});
      await Plotly.react(el, figure.data || [], layout, { responsive: true, displaylogo: false });
    },

    download(name, text) {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    },

    scrollToEnd(el) { if (el) el.scrollTop = el.scrollHeight; },
  };
})();
