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
  document.addEventListener("dragover", e => mark(e.target instanceof Element ? e.target.closest("tr.drag-row") : null));
  document.addEventListener("drop", () => mark(null));
  document.addEventListener("dragend", () => mark(null));

  window.slipwayRegistry = {};
})();
