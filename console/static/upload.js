// 名单 page: while a list uploads and imports (seconds to minutes for a large roster) say so, and keep the
// button from being pressed twice.
(function () {
  'use strict';
  var form = document.getElementById('upload-form');
  if (!form) return;
  form.addEventListener('submit', function () {
    var progress = document.getElementById('upload-progress');
    if (progress) progress.hidden = false;
    var button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    var started = Date.now();
    setInterval(function () {
      if (progress)
        progress.textContent =
          '正在上传并导入，请稍候……已用 ' + Math.round((Date.now() - started) / 1000) + ' 秒';
    }, 1000);
  });
})();
