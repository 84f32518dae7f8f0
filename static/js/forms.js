/* Accessible forms: after a failed submit, move focus to the first field in error (or to the error
   summary when only the form as a whole is in error), and make the summary's links focus their field. */
(function () {
  "use strict";

  function focusField(field) {
    field.focus({ preventScroll: true });
    var container = field.closest(".field") || field;
    container.scrollIntoView({ block: "center" });
  }

  function init() {
    var summary = document.getElementById("error-summary");
    if (!summary) return;
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) return;
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (!field) return;
      event.preventDefault();
      focusField(field);
    });
    var firstInvalid = document.querySelector("form [aria-invalid='true']");
    // An error about the form as a whole (such as a conflict) has no link: the summary must be read first.
    var formWide = Array.prototype.some.call(summary.querySelectorAll("li"), function (item) {
      return !item.querySelector("a");
    });
    if (firstInvalid && !formWide) {
      focusField(firstInvalid);
    } else {
      summary.focus();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
