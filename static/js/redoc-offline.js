// Loaded before ReDoc on the API docs page (templates/drf_spectacular/redoc.html). ReDoc's sidebar credit
// ("API docs by Redocly") shows a logo from cdn.redoc.ly, and ReDoc has no setting to leave it out. The docs are
// served from our own origin only, so an image address on another origin is emptied before it is set: the image
// fails at once without a request, ReDoc drops it (its own error handler), and the credit stays as text.
(function () {
  "use strict";
  function local(value) {
    try {
      return new URL(String(value), document.baseURI).origin === window.location.origin || /^(data|blob):/.test(value);
    } catch (error) {
      return false;
    }
  }
  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && String(name).toLowerCase() === "src" && !local(value)) {
      value = "";
    }
    return setAttribute.call(this, name, value);
  };
  var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: src.get,
    set: function (value) {
      src.set.call(this, local(value) ? value : "");
    },
  });
})();
