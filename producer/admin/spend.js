// Spend over time per model (a uPlot chart) and the top users and agents by spend, for the
// window the live figures show. admin.js announces the window with a 'wo:window' event.
'use strict';

(function () {
  const { byTestId, fmtUsd, fmtInt, fmtPct, api } = window.WorkflowConsole;
  const WINDOW_LABELS = { '1h': 'last hour', '24h': 'last 24 hours', '7d': 'last 7 days', '30d': 'last 30 days' };
  const WINDOW_MS = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
  const BUCKET_LABELS = { 300: '5-minute', 3600: 'hourly', 21600: '6-hour', 86400: 'daily' };
  // Distinct at 3:1 or more on white (WCAG 1.4.11 for graphics).
  const COLORS = ['#2563eb', '#c2410c', '#15803d', '#7c3aed', '#b91c1c', '#0e7490', '#a16207', '#be185d'];
  const CHART_HEIGHT = 260;

  const state = { labels: null, chart: null, window: null, loading: null };

  async function labels() {
    if (!state.labels) {
      try {
        const catalog = await api('/v1/admin/catalog');
        state.labels = new Map(catalog.models.map((m) => [m.id, m.label]));
      } catch {
        state.labels = new Map();
      }
    }
    return state.labels;
  }

  function drawChart(view, names) {
    const el = byTestId('spend-chart');
    if (state.chart) state.chart.destroy();
    state.chart = null;
    el.dataset.series = view.series.map((s) => s.model).join(',');
    el.dataset.buckets = String(view.buckets.length);
    byTestId('spend-empty').hidden = view.series.length > 0;
    if (view.series.length === 0 || typeof window.uPlot !== 'function') return;
    const xs = view.buckets.map((b) => Date.parse(b) / 1000);
    const opts = {
      width: Math.max(200, el.clientWidth),
      height: CHART_HEIGHT,
      scales: { x: { time: true } },
      series: [
        {},
        ...view.series.map((s, i) => ({
          label: names.get(s.model) || s.model,
          stroke: COLORS[i % COLORS.length],
          fill: `${COLORS[i % COLORS.length]}1a`,
          width: 2,
          points: { show: true, size: 5 },
          value: (_u, v) => fmtUsd(v),
        })),
      ],
      axes: [{}, { size: 72, values: (_u, ticks) => ticks.map(fmtUsd) }],
    };
    state.chart = new window.uPlot(opts, [xs, ...view.series.map((s) => s.costUsd)], el);
  }

  function rows(tbody, items, empty, cells) {
    tbody.textContent = '';
    if (items.length === 0) {
      const tr = document.createElement('tr');
      tr.className = 'empty';
      const td = document.createElement('td');
      td.colSpan = 4;
      td.textContent = empty;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    for (const item of items) {
      const tr = document.createElement('tr');
      for (const c of cells(item, tr)) {
        const td = document.createElement('td');
        if (c instanceof Node) td.appendChild(c);
        else td.textContent = c;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
  }

  /** A link to the request log filtered by this user or agent over the window. */
  function logLink(param, id, windowName) {
    if (id === null) return document.createTextNode('(none)');
    const a = document.createElement('a');
    const q = new URLSearchParams({ [param]: id, from: new Date(Date.now() - WINDOW_MS[windowName]).toISOString() });
    a.href = `/admin/requests?${q}`;
    a.textContent = id;
    return a;
  }

  function fillSpenders(tbodyId, view, param, testPrefix) {
    rows(document.getElementById(tbodyId), view.items, 'No spend in the window.', (s, tr) => {
      tr.dataset.testid = `${testPrefix}-${s.id === null ? '' : s.id}`;
      const spend = document.createElement('span');
      spend.textContent = fmtUsd(s.costUsd);
      spend.dataset.value = String(s.costUsd);
      return [logLink(param, s.id, view.window), fmtInt(s.requests), spend, fmtPct(s.sharePercent)];
    });
  }

  async function load(windowName) {
    state.window = windowName;
    const card = byTestId('spend-card');
    try {
      const q = `window=${encodeURIComponent(windowName)}`;
      const [names, spend, users, agents] = await Promise.all([labels(), api(`/v1/admin/spend?${q}`), api(`/v1/admin/top-spenders?${q}&by=user`), api(`/v1/admin/top-spenders?${q}&by=agent`)]);
      if (state.window !== windowName) return;
      byTestId('spend-window').textContent = WINDOW_LABELS[windowName] || windowName;
      byTestId('spend-bucket').textContent = BUCKET_LABELS[spend.bucketSeconds] || `${spend.bucketSeconds}-second`;
      byTestId('spend-total').textContent = `${fmtUsd(spend.totalUsd)} in the chart`;
      byTestId('spend-total').dataset.value = String(spend.totalUsd);
      drawChart(spend, names);
      rows(document.getElementById('spend-series-body'), spend.series, 'No model attempts in the window.', (s, tr) => {
        tr.dataset.testid = `spend-series-${s.model}`;
        return [names.get(s.model) || s.model, fmtInt(s.attempts.reduce((a, b) => a + b, 0)), fmtUsd(s.totalUsd)];
      });
      fillSpenders('top-users-body', users, 'userId', 'top-user');
      fillSpenders('top-agents-body', agents, 'agentId', 'top-agent');
      card.dataset.window = windowName;
      card.dataset.ready = 'true';
    } catch (err) {
      byTestId('spend-total').textContent = `Could not load spend: ${err.message}`;
    }
  }

  document.addEventListener('wo:window', (e) => {
    state.loading = load(e.detail.window);
  });
  window.addEventListener('resize', () => {
    const el = byTestId('spend-chart');
    if (state.chart && el) state.chart.setSize({ width: Math.max(200, el.clientWidth), height: CHART_HEIGHT });
  });
})();
