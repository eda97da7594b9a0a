// The site screen's two behaviours: "online now" refreshing itself (paused while the tab is
// hidden), and the chart's day readout under the pointer or the arrow keys.
(function () {
  'use strict';
  var REFRESH_MS = 15000;

  var online = document.querySelector('[data-online]');
  if (online) {
    var value = online.querySelector('[data-online-value]');
    var state = online.querySelector('[data-online-state]');
    var format = new Intl.NumberFormat(online.getAttribute('data-lang'));
    var url = '/api/v1/sites/' + encodeURIComponent(online.getAttribute('data-site')) + '/counters';
    var timer = null;
    var refresh = function () {
      fetch(url, {credentials: 'omit', cache: 'no-store'}).then(function (r) {
        return r.ok ? r.json() : null;
      }).then(function (body) {
        if (body && typeof body.online === 'number') { value.textContent = format.format(body.online); }
      }).catch(function () {});
    };
    var schedule = function () {
      clearInterval(timer);
      timer = null;
      var hidden = document.visibilityState === 'hidden';
      online.classList.toggle('paused', hidden);
      state.textContent = '(' + online.getAttribute(hidden ? 'data-paused' : 'data-live') + ')';
      if (!hidden) { timer = setInterval(refresh, REFRESH_MS); }
    };
    document.addEventListener('visibilitychange', function () {
      schedule();
      if (document.visibilityState === 'visible') { refresh(); }
    });
    schedule();
  }

  var chart = document.querySelector('[data-chart]');
  var readout = document.querySelector('[data-readout]');
  var table = document.querySelector('[data-daily]');
  if (!chart || !readout || !table) { return; }
  var cols = chart.querySelectorAll('.cols rect');
  var cursor = chart.querySelector('[data-cursor]');
  var heads = table.querySelectorAll('thead th');
  // The table lists the newest day first; the chart draws the oldest first.
  var rows = Array.prototype.slice.call(table.querySelectorAll('tbody tr')).reverse();
  var current = -1;
  var show = function (i) {
    if (i < 0 || i >= rows.length) { return; }
    current = i;
    var cells = rows[i].children;
    var rect = cols[i];
    var x = parseFloat(rect.getAttribute('x')) + parseFloat(rect.getAttribute('width')) / 2;
    cursor.setAttribute('x1', x);
    cursor.setAttribute('x2', x);
    readout.textContent = '';
    var day = document.createElement('strong');
    day.textContent = cells[0].textContent;
    readout.appendChild(day);
    for (var n = 1; n < cells.length; n++) {
      readout.appendChild(document.createTextNode(' · ' + heads[n].textContent + ': ' + cells[n].textContent));
    }
  };
  for (var n = 0; n < cols.length; n++) {
    cols[n].addEventListener('mouseenter', function (e) { show(parseInt(e.target.getAttribute('data-i'), 10)); });
  }
  chart.addEventListener('focus', function () { show(current < 0 ? rows.length - 1 : current); });
  chart.addEventListener('keydown', function (e) {
    var moves = {ArrowLeft: -1, ArrowRight: 1, ArrowDown: -1, ArrowUp: 1, PageDown: -7, PageUp: 7};
    if (e.key in moves) { show(Math.max(0, Math.min(rows.length - 1, current + moves[e.key]))); }
    else if (e.key === 'Home') { show(0); }
    else if (e.key === 'End') { show(rows.length - 1); }
    else { return; }
    e.preventDefault();
  });
})();
