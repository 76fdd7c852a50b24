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

  // A series' x values as the chart shows them: iterations, or (when it carries timestamps t, in ms) seconds of wall
  // time, absolute or since its origin (the run's start).
  function xsOf(s, spec) {
    if (!s.t || !spec.xMode || spec.xMode === "iter") return s.x;
    if (spec.xMode === "wall") return s.t.map(v => v / 1000);
    const origin = s.origin ?? spec.origin ?? s.t.reduce((m, v) => Math.min(m, v), Infinity);
    return s.t.map(v => (v - origin) / 1000);
  }

  // One series as an [x, y] table in strictly increasing x, smoothed, and without the values a log scale cannot show.
  // Wall time need not follow iterations, and points reported within one millisecond share a time: those are kept, a
  // microsecond apart, since joining series on x would drop all but one of them.
  function tableOfSeries(s, spec) {
    let xs = xsOf(s, spec), ys = smooth(s.y, spec.smoothing);
    let sorted = true, strict = true;
    for (let i = 1; i < xs.length; i++) {
      if (xs[i] < xs[i - 1]) sorted = false;
      else if (xs[i] === xs[i - 1]) strict = false;
    }
    if (!sorted) {
      const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b] || a - b);
      xs = order.map(i => xs[i]); ys = order.map(i => ys[i]);
    }
    if (!sorted || !strict) {
      xs = xs.slice();
      for (let i = 1; i < xs.length; i++) if (xs[i] <= xs[i - 1]) xs[i] = xs[i - 1] + 1e-6;
    }
    if (spec.log) ys = ys.map(v => v != null && v > 0 ? v : null);
    return [xs, ys];
  }

  // uPlot wants one shared x array, so series are joined on x.
  function tableOf(spec) {
    const series = spec.series;
    if (series.length === 0) return [[]];
    const tables = series.map(s => tableOfSeries(s, spec));
    return tables.length === 1 ? tables[0] : uPlot.join(tables);
  }

  // The iterations a zoom over [a, b] (in shown x units) needs: in time modes, those of the points just outside it.
  function iterRange(spec, a, b) {
    const timed = spec.xMode && spec.xMode !== "iter" && spec.series.some(s => s.t);
    if (!timed) return [Math.floor(a), Math.ceil(b)];
    let lo = Infinity, hi = -Infinity, before = -Infinity, after = Infinity;
    for (const s of spec.series) {
      const xs = xsOf(s, spec);
      for (let i = 0; i < xs.length; i++) {
        if (xs[i] < a) before = Math.max(before, s.x[i]);
        else if (xs[i] > b) after = Math.min(after, s.x[i]);
        else { lo = Math.min(lo, s.x[Math.max(0, i - 1)]); hi = Math.max(hi, s.x[Math.min(xs.length - 1, i + 1)]); }
      }
    }
    if (lo === Infinity) { lo = before; hi = after; }
    return [isFinite(lo) ? lo : Math.floor(a), isFinite(hi) ? hi : Math.ceil(b)];
  }

  function sizeOf(el) {
    const w = Math.max(240, el.clientWidth || el.parentElement.clientWidth || 480);
    return { width: w, height: 260 };
  }

  // Seconds of run time as a person reads them: 0.25s, 42s, 3:07, 1:02:09 (decimals as fine as the axis ticks need).
  function duration(v, step) {
    if (v == null) return "-";
    const sign = v < 0 ? "-" : "", a = Math.abs(v);
    if (a < 60) {
      const decimals = step ? Math.min(3, Math.max(0, Math.ceil(-Math.log10(step)))) : a < 10 ? 2 : 0;
      return sign + a.toFixed(decimals) + "s";
    }
    const t = Math.round(a), h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
    return sign + (h > 0 ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}` : `${m}:${String(sec).padStart(2, "0")}`);
  }

  // What a chart is built from; anything else changes by setting its data.
  function shapeOf(spec) {
    return JSON.stringify([spec.series.map(s => [s.label, s.color]), !!spec.xTime, spec.xMode || "", !!spec.log]);
  }

  function build(el, spec, dotnet) {
    if (el._chart) { el._chart.destroy(); el._chart = null; }
    const time = !!spec.xTime || spec.xMode === "wall";
    const relative = spec.xMode === "relative";
    const opts = {
      ...sizeOf(el),
      scales: { x: { time }, y: spec.log ? { distr: 3 } : {} },
      series: [Object.assign({ label: time ? "time" : relative ? "run time" : "iteration" }, relative ? { value: (u, v) => duration(v) } : {})]
        .concat(spec.series.map((s, i) => ({
          label: s.label, stroke: s.color || palette[i % palette.length], width: 1.5, spanGaps: true, points: { show: false },
        }))),
      axes: [relative ? { values: (u, vals, axis, space, incr) => vals.map(v => duration(v, incr)) } : {}, { size: 60 }],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: {
        setSelect: [u => {
          if (!dotnet || u.select.width < 2) return;
          const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
          const [lo, hi] = iterRange(el._spec, a, b);
          const zoom = el._zoom = { a, b };
          dotnet.invokeMethodAsync("Zoom", lo, hi).then(series => {
            if (!series || el._chart !== u || el._zoom !== zoom) return;
            el._spec.series = series;
            u.setData(tableOf(el._spec), false);
            u.setScale("x", { min: a, max: b });
            el.dataset.zoomed = `${lo}-${hi}`;
          }, e => console.warn("zoom failed", e));
        }],
      },
    };
    const chart = new uPlot(opts, tableOf(spec), el);
    el._chart = chart;
    el._shape = shapeOf(spec);
    el.ondblclick = () => {
      el._zoom = null;
      if (!dotnet) return;
      dotnet.invokeMethodAsync("Zoom", null, null).then(series => {
        if (!series || el._chart !== chart) return;
        el._spec.series = series;
        chart.setData(tableOf(el._spec));
        delete el.dataset.zoomed;
      }, e => console.warn("zoom reset failed", e));
    };
    if (!el._resize) {
      el._resize = new ResizeObserver(() => { if (el._chart) el._chart.setSize(sizeOf(el)); });
      el._resize.observe(el);
    }
  }

  // Redraws with new settings or data: in place when the chart's shape is the same (keeping a zoomed x range).
  function update(el, spec, dotnet, keepRange) {
    el._spec = spec;
    const u = el._chart;
    if (!u || el._shape !== shapeOf(spec)) { build(el, spec, dotnet); return; }
    const x = u.scales.x, range = keepRange && x.min != null ? { min: x.min, max: x.max } : null;
    u.setData(tableOf(spec), !range);
    if (range) u.setScale("x", range);
  }

  window.slipway = {
    // spec: {series: [{label, x, y, t?, origin?, color?}], xMode: "iter" | "relative" | "wall" (with t, in ms), xTime (x is
    // already seconds since 1970), log, smoothing}. dotnet (optional) gets Zoom(fromIter, toIter) when the user drag-selects
    // and answers finer series for that range, and Zoom(null, null) on double click, answering the whole series again.
    lineChart(el, spec, dotnet) {
      el._dotnet = dotnet;
      el._zoom = null;
      delete el.dataset.zoomed;
      update(el, spec, dotnet, false);
    },

    // Changes smoothing, log scale or x axis of a drawn chart without sending its data again.
    chartSettings(el, settings) {
      if (!el || !el._spec) return;
      const changesX = (settings.xMode ?? el._spec.xMode) !== el._spec.xMode;
      if (changesX) { el._zoom = null; delete el.dataset.zoomed; }
      update(el, { ...el._spec, ...settings }, el._dotnet, !changesX);
    },

    disposeChart(el) {
      if (!el) return;
      if (el._chart) { el._chart.destroy(); el._chart = null; }
      if (el._resize) { el._resize.disconnect(); el._resize = null; }
      el._dotnet = null;
    },

    // How many points each chart holds (inView: only those within its x range), for tests and for people checking what they see.
    pointCount(el, inView) {
      const u = el && el._chart;
      if (!u) return 0;
      const xs = u.data[0], min = u.scales.x.min, max = u.scales.x.max;
      let n = 0;
      for (const ys of u.data.slice(1))
        for (let i = 0; i < ys.length; i++)
          if (ys[i] != null && (!inView || (xs[i] >= min && xs[i] <= max))) n++;
      return n;
    },

    // The x range a chart shows, as [min, max].
    xRange(el) {
      const u = el && el._chart;
      return u ? [u.scales.x.min, u.scales.x.max] : null;
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

    // A table's view (sort, columns) in the address, so it can be shared and survives a reload, without a navigation.
    replaceUrl(url) { history.replaceState(history.state, "", url); },

    // The last view of each table, kept by this browser.
    saveView(key, view) { try { localStorage.setItem("slipway.view." + key, view); } catch { /* private mode: not kept */ } },
    loadView(key) { try { return localStorage.getItem("slipway.view." + key); } catch { return null; } },
  };
})();
