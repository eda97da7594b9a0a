/* visitor-analytics widget: <div data-visitor-stats data-site="x"></div>, see the demo page.
 * data-lang vi|en, data-metric visits|pageviews|visitors, data-interval (s, >= 5), data-api
 * (base URL ending in "/"). Shadow DOM: page CSS can't break it, its CSS can't leak. Theme:
 * --va-accent, -accent-text, -bg, -text, -muted, -line, -font, -radius. Host: data-va-state. */
(() => {
  const d = document, script = d.currentScript;
  const TEXT = {
    vi: ['vi-VN', 'Thống kê truy cập', 'Đang online', 'Hôm nay', 'Trong tuần', 'Tất cả'],
    en: ['en-US', 'Visit statistics', 'Online now', 'Today', 'This week', 'All time'],
  };
  const ROWS = ['online', 'today', 'week', 'total'];
  // Stroke icons: today, this week, all time (online is a CSS dot).
  const CAL = 'M4 5h16v15H4zM4 10h16M8 3v4M16 3v4';
  const ICONS = ['', CAL + 'M8 14h3v3H8z', CAL + 'M7 14h10M7 17h6', 'M4 20h16M7 20v-6M12 20V5M17 20V10'];
  const CSS = `
.va{all:initial;display:block;box-sizing:border-box;overflow:hidden;
 font:14px/1.45 var(--va-font,system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif);
 color:var(--va-text,#1c2733);background:var(--va-bg,#fff);
 border:1px solid var(--va-line,#d3dbe4);border-radius:var(--va-radius,4px)}
.va *{box-sizing:border-box;margin:0;padding:0;font:inherit;color:inherit}
.va-title{display:flex;align-items:center;gap:8px;padding:9px 12px;font-weight:700;
 font-size:14px;letter-spacing:.02em;text-transform:uppercase;
 background:var(--va-accent,#0d4c92);color:var(--va-accent-text,#fff)}
.va-title::before{content:"";width:4px;height:16px;border-radius:2px;background:currentColor;opacity:.75}
.va-list{list-style:none;padding:4px 0}
.va-row{display:flex;align-items:center;gap:9px;padding:6px 12px;white-space:nowrap}
.va-row+.va-row{border-top:1px dashed var(--va-line,#d3dbe4)}
.va-icon{flex:none;width:18px;height:18px;fill:none;stroke:var(--va-accent,#0d4c92);
 stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
.va-dot{flex:none;width:18px;height:18px;display:grid;place-items:center}
.va-dot::before{content:"";width:10px;height:10px;border-radius:50%;background:#1e9e4a;
 box-shadow:0 0 0 3px #1e9e4a33}
.va-label{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;color:var(--va-muted,#3d4b5c)}
.va-num{min-width:4ch;text-align:right;font-weight:700;font-variant-numeric:tabular-nums}
.va-total .va-num{color:var(--va-accent,#0d4c92)}
.va-stale .va-num{opacity:.7}`;
  let sheet; // one stylesheet for all blocks (CSP-proof)
  const polls = new Map(); // counters URL → poll state

  /** Draw one block with placeholders and return a function that fills in numbers. */
  const mount = (el) => {
    const o = el.dataset, t = TEXT[o.lang] || TEXT.vi, fmt = new Intl.NumberFormat(t[0]);
    const metric = ['pageviews', 'visitors'].includes(o.metric) ? o.metric : 'visits';
    const root = el.attachShadow({ mode: 'open' });
    try {
      root.adoptedStyleSheets = [sheet = sheet || new CSSStyleSheet()];
      sheet.cssRules.length || sheet.replaceSync(CSS);
    } catch (e) { // no constructable stylesheets (Safari < 16.4)
      root.innerHTML = `<style>${CSS}</style>`;
    }
    const box = d.createElement('section');
    box.className = 'va';
    box.lang = t[0]; // its words' language, whatever the page's: a screen reader picks the voice
    box.setAttribute('aria-labelledby', 't');
    // Placeholders ("–") have the final height, so the first answer shifts nothing.
    box.innerHTML = `<h2 class="va-title" id="t">${t[1]}</h2><ul class="va-list">${ROWS.map((k, i) =>
      `<li class="va-row va-${k}">${i ? `<svg class="va-icon" viewBox="0 0 24 24" aria-hidden="true"><path d="${ICONS[i]}"/></svg>`
        : '<span class="va-dot" aria-hidden="true"></span>'}<span class="va-label">${t[i + 2]}</span> <b class="va-num">–</b></li>`).join('')}</ul>`;
    root.append(box);
    const nums = box.querySelectorAll('.va-num');
    el.setAttribute('data-va-state', 'loading');
    return (data) => {
      // A failure keeps the last numbers on screen; only the state says so.
      el.setAttribute('data-va-state', data ? 'ok' : 'error');
      box.classList.toggle('va-stale', !data || !!data.stale);
      if (data) ROWS.forEach((k, i) => { nums[i].textContent = fmt.format(i ? data[k][metric] : data.online); });
    };
  };

  /** Fetch one counters URL and fill its blocks; back off while it fails. */
  const poll = async (p) => {
    if (p.busy || d.hidden) return; // a hidden tab resumes on visibilitychange
    clearTimeout(p.timer);
    p.busy = 1;
    let delay = p.ms;
    try {
      // The default cache mode honours the server's Cache-Control and ETag.
      const r = await fetch(p.url, { credentials: 'omit' });
      if (!r.ok) throw r.status;
      const data = await r.json();
      p.blocks.forEach((show) => show(data));
      p.fails = 0;
    } catch (e) {
      p.blocks.forEach((show) => show());
      // back off: 1, 2, 4… intervals (≤ 10 min), jittered
      delay = Math.min(p.ms * 2 ** p.fails++, 6e5) * (1 + Math.random() / 4);
    }
    p.busy = 0;
    p.timer = setTimeout(poll, delay, p);
  };

  const start = () => {
    for (const el of d.querySelectorAll('[data-visitor-stats]')) {
      try {
        const o = el.dataset, site = o.site;
        if (el.shadowRoot || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(site || '')) continue;
        const url = new URL(`api/v1/sites/${site}/counters`, o.api || script.dataset.api || script.src).href;
        const ms = Math.max(5, +o.interval || 30) * 1e3;
        const p = polls.get(url) || { url, ms, fails: 0, blocks: [] };
        polls.set(url, p);
        p.ms = Math.min(p.ms, ms); // blocks of one site share one poll, at the shortest interval
        p.blocks.push(mount(el));
      } catch (e) {} // one bad block must not stop the others
    }
    // Ask a moment after load, so the page's own beacon hit (if any) is already counted.
    setTimeout(() => polls.forEach(poll), 600);
  };

  d.addEventListener('visibilitychange', () => polls.forEach((p) => (d.hidden ? clearTimeout(p.timer) : poll(p))));
  d.readyState == 'loading' ? d.addEventListener('DOMContentLoaded', start) : start();
})();
