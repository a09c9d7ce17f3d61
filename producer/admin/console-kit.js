// What every console page's script needs: one way to format money, counts, percentages and times
// (so a figure reads the same on every card and page), and one way to call the admin API with the
// session cookie. Loaded first (defer keeps the order); the pages' scripts read window.WorkflowConsole.
'use strict';

(function () {
  const byTestId = (id, root) => (root || document).querySelector(`[data-testid="${id}"]`);

  /** $1,234.56 from a dollar up; up to six decimals below (at least two): $0.001095, $0.50, $0.00. */
  function fmtUsd(n) {
    if (n === null || n === undefined || !Number.isFinite(n)) return '—';
    const sign = n < 0 ? '-' : '';
    const abs = Math.abs(n);
    if (abs >= 1) return `${sign}$${abs.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    let s = abs.toFixed(6).replace(/0+$/, '');
    if ((s.split('.')[1] || '').length < 2) s = abs.toFixed(2);
    return `${sign}$${s}`;
  }
  const fmtPct = (n) => (n === null || n === undefined || !Number.isFinite(n) ? '—' : `${n.toFixed(2)}%`);
  const fmtInt = (n) => Number(n || 0).toLocaleString('en-US');
  /** 2026-12-04 23:03:09Z: UTC to the second, as the API and the audit rows store it. */
  const fmtTime = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');
  const dash = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));

  /**
   * GET (or `init`'s method) on the admin API; the parsed JSON body. A lapsed session goes to the
   * sign-in page; any other error status throws with the API's message, `status` and `details`.
   */
  async function api(path, init) {
    const res = await fetch(path, Object.assign({ credentials: 'same-origin', headers: { accept: 'application/json' } }, init || {}));
    if (res.status === 401) {
      window.location.assign('/admin/login');
      throw new Error('session expired');
    }
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const err = new Error((body && body.error && body.error.message) || `HTTP ${res.status}`);
      err.status = res.status;
      err.details = body && body.error && body.error.details;
      throw err;
    }
    return body;
  }

  window.WorkflowConsole = Object.freeze({ byTestId, fmtUsd, fmtPct, fmtInt, fmtTime, dash, api });
})();
