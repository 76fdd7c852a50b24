// Browser-side code of the registry pages: drop-target highlighting for queue rows, worker charts, the dataset lineage graph.
(function () {
  "use strict";

  // The row under a dragged queue entry shows where it will land (the move itself is the server's, on drop).
  let over = null;
  function mark(row) {
    if (over === row) return;
    if (over) over.classList.remove("drag-over");
    over = row;
    if (row) row.classList.add("drag-over");
  }
  document.addEventListener("dragstart", e => {
    const row = e.target instanceof Element ? e.target.closest("tr.drag-row") : null;
    // Some browsers start a drag only with data set; the id also lets a row be dropped into a text field.
    if (row && e.dataTransfer) { e.dataTransfer.setData("text/plain", row.dataset.task || ""); e.dataTransfer.effectAllowed = "move"; }
  });
  document.addEventListener("dragover", e => mark(e.target instanceof Element ? e.target.closest("tr.drag-row") : null));
  document.addEventListener("drop", () => mark(null));
  document.addEventListener("dragend", () => mark(null));

  window.slipwayRegistry = {
    // Copies text to the clipboard; false where the browser refuses (no permission, not a secure context).
    async copy(text) {
      try { await navigator.clipboard.writeText(text); return true; } catch { return false; }
    },

    // specs: [{id, spec}]: line charts drawn into the elements with those ids (the page re-renders them on refresh).
    // A spec's range [from, to] pins the time axis (empty ends are added as gaps, drawn as nothing); series with fewer
    // than two points are drawn as dots, which a line alone would not show.
    charts(specs) {
      for (const { id, spec, range } of specs) {
        const el = document.getElementById(id);
        if (!el) continue;
        if (range) {
          for (const s of spec.series) {
            if (s.x.length === 0 || s.x[0] > range[0]) { s.x.unshift(range[0]); s.y.unshift(null); }
            if (s.x[s.x.length - 1] < range[1]) { s.x.push(range[1]); s.y.push(null); }
          }
        }
        window.slipway.lineChart(el, spec, null);
        const u = el._chart;
        if (!u) continue;
        let sparse = false;
        spec.series.forEach((s, i) => {
          if (s.y.filter(v => v != null).length < 2) { u.series[i + 1].points.show = () => true; u.series[i + 1].points.filter = () => null; sparse = true; }
        });
        if (sparse) u.redraw(false, false);
      }
    },
  };
})();
