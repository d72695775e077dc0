// Keeps the live sections of the supervisor's page current: every few seconds it fetches
// /admin/fragment (same session cookie, same filters) and swaps #live for the new copy.
// The page works without it; this only saves pressing "Reload".
(function () {
  'use strict';
  var PERIOD_MS = 3000;
  var stopped = false;

  function note(text) {
    var el = document.getElementById('refreshed');
    if (el) { el.textContent = text; }
  }

  // Someone typing in a field of the live sections keeps what they typed.
  function busy(live) {
    var a = document.activeElement;
    return !!a && live.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName);
  }

  function schedule() {
    if (!stopped) { window.setTimeout(refresh, PERIOD_MS); }
  }

  function keepOpenDetails(live, fresh) {
    var open = {};
    live.querySelectorAll('tr[data-dlq-id] details[open]').forEach(function (d) {
      open[d.closest('tr').getAttribute('data-dlq-id')] = true;
    });
    fresh.querySelectorAll('tr[data-dlq-id]').forEach(function (tr) {
      var d = tr.querySelector('details');
      if (d && open[tr.getAttribute('data-dlq-id')]) { d.open = true; }
    });
  }

  function refresh() {
    var live = document.getElementById('live');
    if (!live || document.hidden || busy(live)) { schedule(); return; }
    var url = '/admin/fragment' + (live.getAttribute('data-query') || '');
    fetch(url, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        if (r.status === 401) {
          stopped = true;
          note('(signed out: reload the page to sign in again)');
          return null;
        }
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.text();
      })
      .then(function (text) {
        if (text === null) { return; }
        var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('live');
        if (!fresh) { throw new Error('the answer holds no live section'); }
        var current = document.getElementById('live');
        if (!current || busy(current)) { return; }
        keepOpenDetails(current, fresh);
        current.replaceWith(document.importNode(fresh, true));
        note('(updated ' + new Date().toLocaleTimeString() + ')');
      })
      .catch(function (e) { note('(refresh failed: ' + e.message + '; retrying)'); })
      .then(schedule);
  }

  schedule();
}());
