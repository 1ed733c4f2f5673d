// The storage job page: poll the job's progress until it ends.
(function () {
  var card = document.querySelector('[data-testid="job"]');
  function poll() {
    fetch(card.dataset.api, {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (job) {
      document.getElementById('job-progress').value = job.progress;
      ['state', 'processed', 'discovered', 'skipped', 'failed'].forEach(function (name) {
        document.getElementById('job-' + name).textContent = job[name];
      });
      if (job.state === 'queued' || job.state === 'running') { setTimeout(poll, 1500); }
    });
  }
  if (['queued', 'running'].indexOf(document.getElementById('job-state').textContent) >= 0) { setTimeout(poll, 1500); }
})();
