/* visitor-analytics beacon. Options and choices: the demo page (/). */
(() => {
  const d = document, w = window, safe = (f) => (a, b) => { try { return f(a, b); } catch (e) {} };
  safe(() => {
    const tag = d.currentScript, data = tag.dataset, site = data.site;
    if (!site || w.visitorAnalytics) return; // loaded twice: count once
    const api = new URL('api/v1/hit', data.api || tag.src); // data-api ends with "/"
    let last; // the URL counted last

    // Not yet: a prerender until shown; a frame, hidden or without data-allow-frame.
    const skip = () => d.prerendering || w != top && !('allowFrame' in data && innerWidth * innerHeight);
    const send = (type, url, title) => {
      const body = JSON.stringify({ site, type, url, referrer: d.referrer, title });
      // title: pageviews only. A string is sent as text/plain: no CORS preflight
      navigator.sendBeacon(api, body) || fetch(api, { method: 'POST', body, keepalive: true, mode: 'no-cors' }).catch(() => 0);
    };
    // Count url (default: this page; no "#...") unless it was counted just before.
    const view = safe((url, again) => {
      url = new URL(url || location, location).href.split('#')[0];
      if (!skip() && (again || url != last)) send('pageview', last = url, d.title);
    });
    const auto = () => view();
    const ping = safe(() => last && !d.hidden && send('ping', last));

    for (const k of ['pushState', 'replaceState']) {
      const orig = history[k];
      history[k] = function () { orig.apply(this, arguments); auto(); };
    }
    w.addEventListener('popstate', auto);
    d.addEventListener('prerenderingchange', auto);
    // a bfcache restore is a page view, like the reload it replaces
    w.addEventListener('pageshow', (e) => e.persisted && view(0, 1));
    setInterval(ping, (+data.pingSeconds || 120) * 1e3);
    w.visitorAnalytics = { pageview: (url) => view(url, 1), ping };
    auto();
  })();
})();
