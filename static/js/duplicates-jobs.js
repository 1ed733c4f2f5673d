// The duplicates page: each queued or running bulk job's line follows GET /api/v1/jobs/{id} until
// the job ends, so its state and counts change without a reload.
(function () {
  var STATES = {queued: 'Queued', running: 'Running', done: 'Done', failed: 'Failed', cancelled: 'Cancelled'};
  function text(job) {
    var line = STATES[job.state] || job.state;
    if (job.total) {
      line += ' — ' + job.processed.toLocaleString() + ' of ' + job.total.toLocaleString();
      if (job.failed) { line += ', ' + job.failed.toLocaleString() + ' failed'; }
    } else if (job.state === 'queued') {
      line += ' — waiting for a worker';
    } else if (job.state === 'running') {
      line += ' — counting groups';
    }
    if (job.error) { line += ': ' + job.error; }
    return line;
  }
  function follow(item) {
    fetch('/api/v1/jobs/' + item.dataset.job, {credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        item.dataset.state = job.state;
        item.querySelector('[data-testid="job-status"]').textContent = text(job);
        var bar = item.querySelector('progress');
        if (bar) { bar.value = job.progress; }
        if (job.state === 'queued' || job.state === 'running') {
          setTimeout(function () { follow(item); }, 1000);
        } else {
          item.querySelector('[data-testid="job-reload"]').hidden = false;
        }
      })
      .catch(function () { setTimeout(function () { follow(item); }, 3000); });
  }
  document.querySelectorAll('[data-testid="job"][data-job]').forEach(function (item) {
    if (item.dataset.state === 'queued' || item.dataset.state === 'running') { follow(item); }
  });
})();
