// Model page: copy the reward function to the clipboard.
(function () {
  "use strict";
  var button = document.getElementById("copy-reward");
  var code = document.getElementById("reward-code");
  if (!button || !code || !navigator.clipboard) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(code.textContent).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    });
  });
})();
