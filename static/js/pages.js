// Behaviour the page templates ask for with data attributes, so no page needs inline script (the
// Content-Security-Policy allows scripts from this site only). Loaded with `defer`: the page is parsed.
//   data-autosubmit            on an input: submit its form when it changes
//   data-output="<id>"         on an input: show its value in the <output> of that id as it moves
//   data-confirm="<question>"  on a form: ask before submitting
(function () {
  "use strict";
  document.querySelectorAll("[data-autosubmit]").forEach(function (input) {
    input.addEventListener("change", function () {
      if (input.form) input.form.submit();
    });
  });
  document.querySelectorAll("[data-output]").forEach(function (input) {
    var output = document.getElementById(input.getAttribute("data-output"));
    if (!output) return;
    input.addEventListener("input", function () {
      output.value = input.value;
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();
