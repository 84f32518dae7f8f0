/* Sizes and positions that come from data (progress bars, the milestone timeline) arrive as data-width and
   data-left percentages: the content security policy refuses inline style attributes, but not styles set
   from a script of our own. */
(function () {
  "use strict";

  function percent(value) {
    var number = parseFloat(value);
    return isFinite(number) ? Math.min(Math.max(number, 0), 100) + "%" : null;
  }

  function apply(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-width], [data-left]"), function (el) {
      var width = percent(el.dataset.width), left = percent(el.dataset.left);
      if (width !== null) el.style.width = width;
      if (left !== null) el.style.left = left;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { apply(document); });
  } else {
    apply(document);
  }
})();
