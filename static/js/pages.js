// Behaviour the page templates ask for with data attributes, so no page needs inline script (the
// Content-Security-Policy allows scripts from this site only).
//   data-autosubmit            on an input: submit its form when it changes
//   data-output="<id>"         on an input: show its value in the <output> of that id as it moves
//   data-confirm="<question>"  on a form: ask before submitting
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.matches && input.matches("[data-autosubmit]") && input.form) input.form.submit();
  });
  document.addEventListener("input", function (event) {
    var input = event.target;
    var id = input.getAttribute && input.getAttribute("data-output");
    var output = id && document.getElementById(id);
    if (output) output.value = input.value;
  });
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
