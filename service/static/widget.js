/* visitor-analytics widget (docs/embedding.md); ≤ 4 KiB gzipped */
(() => {
  const d = document, tag = d.currentScript, S = tag.dataset, polls = new Map(), sheets = {};
  const ROWS = ['online', 'today', 'yesterday', 'week', 'month', 'total'];
  const TEXT = {
    vi: ['vi-VN', 'Thống kê truy cập', 'Lượt xem', 'Chưa có số liệu',
      'Đang online', 'Hôm nay', 'Hôm qua', 'Trong tuần', 'Tháng này', 'Tất cả'],
    en: ['en-US', 'Visit statistics', 'Views', 'No data yet',
      'Online now', 'Today', 'Yesterday', 'This week', 'This month', 'All time'],
  };
  const CAL = 'M4 5h16v15H4zM4 10h16M8 3v4M16 3v4';
  const ICONS = ['', CAL + 'M8 14h3v3H8z', CAL + 'M14 13l-3 2.5 3 2.5', CAL + 'M7 14h10M7 17h6',
    CAL + 'M8 14h.01M12 14h.01M16 14h.01M8 17h.01', 'M4 20h16M7 20v-6M12 20V5M17 20V10',
    'M2 12s4-7 10-7 10 7 10 7-4 7-10 7-10-7-10-7zM12 9.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z'];
  const icon = (i) => i ? `<svg class="va-icon" part="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="${ICONS[i]}"/></svg>`
    : '<span class="va-dot" aria-hidden="true"></span>';
  const SHADOW = `
.va{all:initial;display:block;box-sizing:border-box;overflow:hidden;
 font:14px/1.45 var(--va-font,system-ui,Arial,sans-serif);
 color:var(--va-text,#1c2733);background:var(--va-bg,#fff);
 border:1px solid var(--va-line,#d3dbe4);border-radius:var(--va-radius,4px)}
.va *{box-sizing:border-box;margin:0;padding:0;font:inherit;color:inherit}
.va-title{display:flex;align-items:center;gap:8px;padding:9px 12px;font-weight:700;
 letter-spacing:.02em;text-transform:uppercase;
 background:var(--va-accent,#0d4c92);color:var(--va-accent-text,#fff)}
.va-title::before{content:"";width:4px;height:16px;border-radius:2px;background:currentColor;opacity:.75}
.va-list{list-style:none;padding:4px 0}
.va-row{display:flex;align-items:center;gap:9px;padding:6px 12px;white-space:nowrap}
.va-row+.va-row{border-top:1px dashed var(--va-line,#d3dbe4)}
.va-icon{flex:none;width:18px;height:18px;fill:none;stroke:var(--va-accent,#0d4c92);
 stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
.va-dot{flex:none;width:10px;height:10px;margin:4px;border-radius:50%;background:#1e9e4a;
 box-shadow:0 0 0 3px #1e9e4a33}
.va-label{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;color:var(--va-muted,#3d4b5c)}
.va-num{min-width:4ch;text-align:right;font-weight:700;font-variant-numeric:tabular-nums}
.va-total .va-num{color:var(--va-accent,#0d4c92)}
.va-stale .va-num{opacity:.7}
.vv{white-space:nowrap}
.vv .va-icon{width:1.15em;height:1.15em;margin-right:.3em;vertical-align:-.2em;stroke:currentColor}
.vv b{display:inline-block;min-width:5ch;font-weight:600}`;
  const LIST = `
:where([data-visitor-top]){list-style:none;margin:0;padding:0;counter-reset:va}
:where([data-visitor-top]>li){counter-increment:va;display:grid;grid-template-columns:auto minmax(0,1fr);
 gap:2px 10px;padding:8px 0;line-height:1.35}
:where([data-visitor-top]>li+li){border-top:1px dashed var(--va-line,#d3dbe4)}
:where([data-visitor-top]>li)::before{content:counter(va);grid-row:span 2;width:24px;height:24px;
 display:grid;place-items:center;border-radius:50%;font-size:13px;font-weight:700;
 background:var(--va-accent,#0d4c92);color:var(--va-accent-text,#fff)}
:where([data-visitor-top] .va-t){display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:2;
 min-height:2.7em;overflow:hidden;font-weight:600;text-decoration:none}
:where([data-visitor-top] .va-v){font-size:.85em;color:var(--va-muted,#5b6878)}`;

  const adopt = (root, css) => {
    try { // constructed: CSP-proof
      let s = sheets[css];
      s || (s = sheets[css] = new CSSStyleSheet()).replaceSync(css);
      root.adoptedStyleSheets.includes(s) || (root.adoptedStyleSheets = [...root.adoptedStyleSheets, s]);
    } catch (e) { // Safari < 16.4
      (root.head || root).append(Object.assign(d.createElement('style'), { textContent: css }));
    }
  };
  const shadow = (el, html, t) => {
    const root = el.attachShadow({ mode: 'open' });
    adopt(root, SHADOW);
    root.innerHTML = html;
    root.firstChild.lang = t[0]; // a screen reader's voice
    return root.firstChild;
  };

  // Each embed: "–" at its final size, then show(answer); show() keeps it.
  const block = (el, o, t, f) => {
    const metric = ['pageviews', 'visitors'].includes(o.metric) ? o.metric : 'visits';
    const rows = [...new Set((o.rows || '').split(',').map((r) => r.trim()))].filter((k) => ROWS.includes(k));
    rows.length || rows.push('online', 'today', 'week', 'total');
    const box = shadow(el, `<section class="va" aria-labelledby="t"><h2 class="va-title" id="t">${t[1]}</h2><ul class="va-list">${
      rows.map((k) => `<li class="va-row va-${k}">${icon(ROWS.indexOf(k))}<span class="va-label">${t[ROWS.indexOf(k) + 4]}</span> <b class="va-num">–</b></li>`).join('')}</ul></section>`, t);
    const nums = box.querySelectorAll('.va-num');
    return (data) => {
      box.classList.toggle('va-stale', !data || !!data.stale);
      data && rows.forEach((k, i) => { nums[i].textContent = f(k == 'online' ? data.online : data[k]?.[metric]); });
    };
  };

  const views = (el, t, f) => {
    const num = shadow(el, `<span class="vv">${icon(6)}${t[2]}: <b>–</b></span>`, t).lastChild;
    return (page) => page && (num.textContent = f(page.views.total));
  };

  const list = (el, t, f, limit) => {
    adopt(d, LIST);
    el.role = 'list'; // for Safari
    el.ariaBusy = true;
    el.innerHTML = `<li><a class="va-t">–</a> <span class="va-v" lang="${t[0]}">–</span></li>`.repeat(limit);
    const z = el.lastChild; // keeps the placeholders' height (not the padding)
    el.style.minHeight = z.offsetTop + z.offsetHeight - el.firstChild.offsetTop + 'px';
    return (data) => {
      el.ariaBusy = null;
      // in place: a focused link keeps the focus
      data && [...el.children].forEach((li, i) => {
        const p = data.pages[i], a = li.firstChild, url = p && new URL(p.link || p.path, location.origin);
        li.style.display = p || !i ? '' : 'none';
        a.textContent = p ? p.title || p.path : i ? '' : t[3]; // never HTML
        url?.origin == location.origin ? (a.href = url.href) : a.removeAttribute('href');
        li.lastChild.textContent = p ? `${f(p.views)} ${t[2].toLowerCase()}` : '';
      });
    };
  };

  // one poll per URL
  const watch = (url, ms, show) => {
    const p = polls.get(url) || { url, ms, fails: 0, shows: [] };
    polls.set(url, p);
    p.ms = Math.min(p.ms, ms);
    p.shows.push(show);
  };
  const poll = async (p) => {
    if (p.busy || d.hidden) return;
    clearTimeout(p.timer);
    p.busy = 1;
    let delay = p.ms, data;
    try {
      const r = await fetch(p.url, { credentials: 'omit' });
      if (!r.ok) throw r.status;
      data = await r.json();
      p.fails = 0;
    } catch (e) { // back off, jittered
      delay = Math.min(p.ms * 2 ** p.fails++, 6e5) * (1 + Math.random() / 4);
    }
    p.shows.forEach((show) => { try { show(data); } catch (e) {} });
    p.busy = 0;
    p.timer = setTimeout(poll, delay, p);
  };

  const start = () => {
    const batches = [];
    for (const el of d.querySelectorAll('[data-visitor-stats],[data-visitor-views],[data-visitor-top]')) {
      try {
        const o = el.dataset, g = o.group, site = g || o.site || S.site, t = TEXT[o.lang || S.lang] || TEXT.vi;
        if (o.vaState || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(site || '')) continue;
        const fmt = new Intl.NumberFormat(t[0]), f = (n) => (n == null ? '–' : fmt.format(n));
        const ms = Math.max(5, +o.interval || +S.interval || 30) * 1e3;
        const api = new URL(`api/v1/${g ? 'group' : 'site'}s/${site}/`, o.api || S.api || tag.src).href;
        const state = (show) => (data) => { o.vaState = data ? 'ok' : 'error'; show(data); };
        if ('visitorStats' in o) watch(api + 'counters', ms, state(block(el, o, t, f)));
        else if ('visitorTop' in o) {
          const limit = Math.min(50, Math.max(1, parseInt(o.limit) || 10));
          const period = ['today', 'yesterday', 'month', 'all'].includes(o.period) ? o.period : 'week';
          watch(`${api}top?period=${period}&limit=${limit}`, ms, state(list(el, t, f, limit)));
        } else { // one request: ≤ 100 paths, ≤ 6 kB
          const u = new URL(o.path || '', location.href), path = u.pathname + u.search;
          if (path.length > 2e3) continue; // refused
          const arg = '&path=' + encodeURIComponent(path), show = state(views(el, t, f));
          let b = batches.find((b) => b.api == api && (arg in b.at || b.n < 100 && b.q.length + arg.length < 6e3));
          b || batches.push(b = { api, ms, q: '', n: 0, at: {}, shows: [] });
          arg in b.at || (b.at[arg] = b.n++, b.q += arg);
          const i = b.at[arg];
          b.ms = Math.min(b.ms, ms);
          b.shows.push((data) => show(data?.pages[i]));
        }
        o.vaState = 'loading';
      } catch (e) {}
    }
    batches.forEach((b) => watch(`${b.api}pages?${b.q.slice(1)}`, b.ms, (data) => b.shows.forEach((show) => show(data))));
    setTimeout(() => polls.forEach(poll), 600); // after the beacon's hit
  };

  d.addEventListener('visibilitychange', () => polls.forEach((p) => (d.hidden ? clearTimeout(p.timer) : poll(p))));
  d.readyState == 'loading' ? d.addEventListener('DOMContentLoaded', start) : start();
})();
