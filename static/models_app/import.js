// Import page: a dropped or picked folder keeps its files' relative paths. A multipart upload sends only
// base names, so the paths travel beside the files as one JSON list, in the files' order.
(function () {
  "use strict";
  var form = document.querySelector("[data-import-form]");
  if (!form) { return; }
  var folder = form.querySelector("input[name=folder]");
  var paths = form.querySelector("input[name=paths]");
  var summary = form.querySelector("[data-folder-summary]");
  if (!folder || !paths) { return; }
  folder.addEventListener("change", function () {
    var names = Array.prototype.map.call(folder.files, function (file) {
      return file.webkitRelativePath || file.name;
    });
    paths.value = JSON.stringify(names);
    if (summary) {
      summary.hidden = names.length === 0;
      summary.textContent = names.length + " files in " + (names[0] || "").split("/")[0] + "/";
    }
  });
})();
