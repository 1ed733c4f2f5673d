// Multi-select with shift-click (gallery, trash), confirmations that say how many images and bytes
// a destructive button touches, and live progress of background jobs. Loaded on every page.
(function () {
  function humanBytes(n) {
    var units = ['bytes', 'KB', 'MB', 'GB', 'TB'], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i === 0 ? n : n.toFixed(1)) + '\u00a0' + units[i];
  }

  // Shift-click selects (or clears) every box between the last one clicked and this one.
  document.querySelectorAll('[data-select-scope]').forEach(function (scope) {
    var boxes = Array.prototype.slice.call(scope.querySelectorAll('input[type=checkbox][data-select]'));
    var counter = document.querySelector('[data-select-count="' + scope.dataset.selectScope + '"]');
    var needing = document.querySelectorAll('[data-needs-selection="' + scope.dataset.selectScope + '"]');
    var last = null;
    function update() {
      var chosen = boxes.filter(function (b) { return b.checked; });
      var bytes = chosen.reduce(function (sum, b) { return sum + Number(b.dataset.size || 0); }, 0);
      if (counter) { counter.textContent = chosen.length ? chosen.length + ' selected · ' + humanBytes(bytes) : ''; }
      needing.forEach(function (button) { button.disabled = chosen.length === 0; });
      boxes.forEach(function (b) { b.closest('[data-tile]').classList.toggle('selected', b.checked); });
    }
    boxes.forEach(function (box, index) {
      box.addEventListener('click', function (event) {
        if (event.shiftKey && last !== null) {
          var from = Math.min(last, index), to = Math.max(last, index);
          for (var i = from; i <= to; i += 1) { boxes[i].checked = box.checked; }
        }
        last = index;
        update();
      });
    });
    var all = document.querySelector('[data-select-all="' + scope.dataset.selectScope + '"]');
    if (all) {
      all.addEventListener('click', function () {
        var every = boxes.every(function (b) { return b.checked; });
        boxes.forEach(function (b) { b.checked = !every; });
        update();
      });
    }
    update();
  });

  // A button with data-confirm asks first. {count} and {bytes} are filled from the form's boxes
  // with data-size: the checked ones, or the unchecked ones with data-confirm-count="unchecked";
  // {target} from the form's select[data-confirm-target].
  document.addEventListener('click', function (event) {
    var button = event.target.closest('button[data-confirm]');
    if (!button) { return; }
    var message = button.dataset.confirm;
    if (message.indexOf('{') >= 0) {
      var form = button.form;
      var boxes = Array.prototype.slice.call(document.querySelectorAll('input[type=checkbox][data-size]'))
        .filter(function (b) { return b.form === form; });
      var wanted = button.dataset.confirmCount === 'unchecked';
      var chosen = boxes.filter(function (b) { return b.checked !== wanted; });
      var bytes = chosen.reduce(function (sum, b) { return sum + Number(b.dataset.size || 0); }, 0);
      message = message.replace('{count}', chosen.length).replace('{bytes}', humanBytes(bytes));
      // {target}: the chosen option of the form's select[data-confirm-target] (the bulk bar's "Move to")
      var target = form && form.querySelector('select[data-confirm-target]');
      if (target && target.selectedIndex >= 0) { message = message.replace('{target}', target.options[target.selectedIndex].text); }
    }
    if (!window.confirm(message)) { event.preventDefault(); }
  });

  // [data-job-api]: follow the job (GET that address) while it is queued or running: data-state takes
  // its state; inside, [data-job-field=NAME] shows that field of the job (a <progress> its value;
  // "status" a line: state, counts, error). When it ends the page reloads (data-job-done-reload),
  // or else elements with data-job-done-show appear. A job the viewer may not follow stays as rendered.
  var STATES = {queued: 'Queued', running: 'Running', done: 'Done', failed: 'Failed', cancelled: 'Cancelled'};
  function statusLine(job) {
    var line = STATES[job.state] || job.state;
    if (job.total) {
      line += ' \u2014 ' + job.processed.toLocaleString() + ' of ' + job.total.toLocaleString();
      if (job.failed) { line += ', ' + job.failed.toLocaleString() + ' failed'; }
    } else if (job.state === 'queued') {
      line += ' \u2014 waiting for a worker';
    } else if (job.state === 'running') {
      line += ' \u2014 counting groups';
    }
    if (job.error) { line += ': ' + job.error; }
    return line;
  }
  function active(state) { return state === 'queued' || state === 'running'; }
  document.querySelectorAll('[data-job-api]').forEach(function (card) {
    function poll() {
      fetch(card.dataset.jobApi, {credentials: 'same-origin'})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (job) {
          if (!job) { return; }  // not allowed to follow it, or gone: leave the figures as rendered
          card.dataset.state = job.state;
          card.querySelectorAll('[data-job-field]').forEach(function (el) {
            var name = el.dataset.jobField;
            if (name === 'progress') { el.value = job.progress; }
            else if (name === 'status') { el.textContent = statusLine(job); }
            else { el.textContent = job[name]; }
          });
          if (active(job.state)) { setTimeout(poll, 1000); }
          else if (card.dataset.jobDoneReload) { window.location.reload(); }
          else { card.querySelectorAll('[data-job-done-show]').forEach(function (el) { el.hidden = false; }); }
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    if (active(card.dataset.state)) { setTimeout(poll, 1000); }
  });
})();
