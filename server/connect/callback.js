// The OAuth callback's page: posts the flow's result to the window that opened it, at the
// origin the flow was started for (never "*"), then closes.
"use strict";
(function () {
  var node = document.getElementById("result");
  if (!node || !window.opener) return;
  var data;
  try {
    data = JSON.parse(node.textContent);
  } catch (_) {
    return;
  }
  (data.origins || []).forEach(function (origin) {
    try {
      window.opener.postMessage(data.result, origin);
    } catch (_) {
      // An origin the opener is not at: the browser drops the message.
    }
  });
  window.close();
})();
