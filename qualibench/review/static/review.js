// Keyboard coding: digits type the points (the cursor moves on once the number cannot grow),
// Tab moves too, Enter saves and opens the next reply (the form's own submit, sent by htmx),
// j / k open the next / previous reply. Served as a file: the pages allow no inline script.
(function () {
  "use strict";
  function fields() {
    return Array.prototype.slice.call(document.querySelectorAll("#panel input.points, #panel input.comment"));
  }
  function focusFirst() {
    var list = fields();
    var empty = list.filter(function (f) { return f.value === ""; })[0] || list[0];
    if (empty) { empty.focus(); if (empty.select) { empty.select(); } }
  }
  function moveOn(field) {
    var list = fields();
    var i = list.indexOf(field);
    if (i >= 0 && i + 1 < list.length) { list[i + 1].focus(); if (list[i + 1].select) { list[i + 1].select(); } }
  }
  document.addEventListener("DOMContentLoaded", focusFirst);
  document.addEventListener("htmx:afterSettle", focusFirst);
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!t.classList || !t.classList.contains("points") || t.value === "") { return; }
    var max = parseFloat(t.max);
    if (t.value === "0" || parseFloat(t.value) * 10 > max) { moveOn(t); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var t = e.target;
    var typing = t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" ||
                       (t.tagName === "INPUT" && t.type !== "number"));
    if (typing) { return; }
    if (e.key === "j" || e.key === "k") {
      var link = document.querySelector(e.key === "j" ? "#panel a[rel=next]" : "#panel a[rel=prev]");
      if (link) { e.preventDefault(); link.click(); }
    } else if (/^[0-9]$/.test(e.key) && t.tagName !== "INPUT") {
      focusFirst();
    }
  });
})();
