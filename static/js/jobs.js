// The Jobs page: poll each queued or running job until it ends, updating its progress and state.
(function () {
  "use strict";
  var LABELS = {queued: "Queued", running: "Running", done: "Done", failed: "Failed", cancelled: "Cancelled"};
  function poll(row) {
    fetch(row.dataset.api, {credentials: "same-origin"}).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (job) {
      if (!job) return;
      row.dataset.state = job.state;
      row.querySelector("progress").value = job.progress;
      row.querySelector("[data-part=done]").textContent = job.processed + job.failed;
      row.querySelector("[data-part=total]").textContent = job.total;
      var state = row.querySelector("[data-part=state]");
      state.textContent = LABELS[job.state] || job.state;
      state.className = "badge badge-job-" + job.state;
      if (job.error && !row.querySelector("[data-part=error]")) {
        var error = document.createElement("div");
        error.className = "field-error";
        error.dataset.part = "error";
        error.textContent = job.error;
        state.parentNode.appendChild(error);
      }
      if (job.state === "queued" || job.state === "running") {
        setTimeout(function () { poll(row); }, 1500);
      } else {
        var cancel = row.querySelector("form");
        if (cancel) cancel.remove();
      }
    });
  }
  document.querySelectorAll("tr[data-job]").forEach(function (row) {
    if (row.dataset.state === "queued" || row.dataset.state === "running") setTimeout(function () { poll(row); }, 1500);
  });
})();
