/* Review queue keyboard shortcuts: d = disaster, n = not a disaster, s = skip.
   Each key clicks the button that carries it in data-shortcut, so the page works the same
   without JavaScript (plain POST forms); this file only saves reaching for the mouse. */
"use strict";
(function () {
  let submitted = false;
  document.addEventListener("keydown", function (event) {
    if (submitted || event.repeat || event.defaultPrevented) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof Element && target.closest("input, textarea, select, [contenteditable]")) {
      return;
    }
    const key = event.key.toLowerCase();
    const button = document.querySelector('#review-form [data-shortcut="' + CSS.escape(key) + '"]');
    if (!button) return;
    event.preventDefault();
    submitted = true; // one decision per page: a held or doubled key must not label the next one
    button.click();
  });
})();
