// 名单 page: while a list uploads, say so and keep the button from being pressed twice; while a department's
// list imports (its page /lists/imports/:job), ask for the rows read so far every second and show them, then
// load the page again for the result (read = accepted + rejected + skipped). Closing the page stops only the
// asking: the import goes on in the server.
(function () {
  'use strict';
  var form = document.getElementById('upload-form');
  if (form)
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

  var importing = document.querySelector('.importing[data-progress]');
  if (!importing) return;
  var url = importing.getAttribute('data-progress');
  var shown = importing.querySelector('.rows-read');
  function ask() {
    fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (response) {
        return response.json();
      })
      .then(function (job) {
        if (job.state === 'importing') {
          if (shown) shown.textContent = Number(job.rowsRead).toLocaleString('en-US');
          setTimeout(ask, 1000);
        } else window.location.reload();
      })
      .catch(function () {
        setTimeout(ask, 3000);
      });
  }
  setTimeout(ask, 1000);
})();
