// The request log and one request's page: plain DOM, reading the admin API with the session cookie.
(() => {
  'use strict';
  const $ = (sel) => document.querySelector(sel);
  const { byTestId, fmtUsd, fmtTime, dash, api } = window.WorkflowConsole;
  const FILTERS = ['status', 'generator', 'primaryModel', 'fallbackReason', 'userId', 'agentId', 'jobIdPrefix', 'from', 'to'];

  function row(tbody, cells, testid) {
    const tr = document.createElement('tr');
    if (testid) tr.dataset.testid = testid;
    for (const c of cells) {
      const td = document.createElement('td');
      if (c instanceof Node) td.append(c);
      else td.textContent = c;
      tr.append(td);
    }
    tbody.append(tr);
    return tr;
  }

  function link(href, text) {
    const a = document.createElement('a');
    a.href = href;
    a.textContent = text;
    return a;
  }

  async function showLog() {
    byTestId('log-view').hidden = false;
    const params = new URLSearchParams(window.location.search);
    const query = new URLSearchParams();
    for (const name of FILTERS) {
      const value = params.get(name) || '';
      const field = document.querySelector(`#filters [name="${name}"]`);
      if (field) field.value = value;
      if (value) query.set(name, value);
    }
    const csv = new URLSearchParams(query);
    csv.set('format', 'csv');
    byTestId('csv-link').href = `/v1/admin/generations?${csv}`;
    if (params.get('cursor')) query.set('cursor', params.get('cursor'));
    const page = await api(`/v1/admin/generations?${query}`);
    const tbody = $('#log-body');
    tbody.replaceChildren();
    if (page.items.length === 0) row(tbody, ['No requests match.'], 'log-empty');
    for (const r of page.items) {
      row(
        tbody,
        [fmtTime(r.createdAt), link(`/admin/requests/${encodeURIComponent(r.id)}`, r.id), r.status, `${dash(r.userId)} / ${dash(r.agentId)}`, dash(r.primaryModel), dash(r.generatorUsed), dash(r.fallbackReason), String(r.attempts), fmtUsd(r.costUsd)],
        `log-row-${r.id}`,
      );
    }
    const events = await api('/v1/admin/fallback-events?limit=20');
    const fb = $('#fallback-body');
    if (events.items.length === 0) row(fb, ['No fallbacks recorded.'], 'fallback-empty');
    for (const e of events.items) {
      row(fb, [fmtTime(e.at), link(`/admin/requests/${encodeURIComponent(e.requestId)}`, e.requestId), dash(e.reason), `${dash(e.primaryModel)} → ${dash(e.fallbackModel)}`, fmtUsd(e.costUsdWasted), dash(e.errorMessage)], `fallback-${e.requestId}`);
    }
    const next = byTestId('next-page');
    if (page.nextCursor) {
      const more = new URLSearchParams(query);
      more.set('cursor', page.nextCursor);
      next.href = `/admin/requests?${more}`;
      next.hidden = false;
    }
  }

  function summary(d) {
    const dl = byTestId('detail-summary');
    const items = [
      ['Status', d.status],
      ['User / agent', `${dash(d.userId)} / ${dash(d.agentId)}`],
      ['Primary model', dash(d.primaryModel)],
      ['Generator', dash(d.generatorUsed)],
      ['Fallback reason', dash(d.fallbackReason)],
      ['Failure reason', dash(d.failureReason)],
      ['Attempts', String(d.attempts)],
      ['Tokens', `${d.tokens.input} in · ${d.tokens.output} out`],
      ['Cost', fmtUsd(d.costUsd)],
      ['Time', d.generationTimeMs === null ? '—' : `${d.generationTimeMs} ms`],
      ['Created', fmtTime(d.createdAt)],
      ['Finished', fmtTime(d.finishedAt)],
    ];
    dl.replaceChildren(
      ...items.map(([k, v]) => {
        const div = document.createElement('div');
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v;
        dd.dataset.testid = `summary-${k.toLowerCase().replace(/[^a-z]+/g, '-')}`;
        div.append(dt, dd);
        return div;
      }),
    );
  }

  async function showDetail(id) {
    byTestId('detail-view').hidden = false;
    const d = await api(`/v1/admin/generations/${encodeURIComponent(id)}`);
    document.title = `Request ${d.id} · Workflow Orchestrator`;
    byTestId('detail-id').textContent = d.id;
    summary(d);
    const attempts = $('#attempts-body');
    for (const a of d.attemptRows) {
      const errors = (a.validationErrors || []).map((e) => `${e.path || '/'} ${e.message}`).join('; ') || dash(a.errorMessage);
      row(attempts, [String(a.attemptNumber), a.role, a.model, a.outcome, dash(a.httpStatus), `${a.tokens.input} / ${a.tokens.output}`, fmtUsd(a.costUsd), `${a.latencyMs} ms`, fmtTime(a.startedAt), errors], `attempt-${a.attemptNumber}`);
    }
    const audit = $('#audit-body');
    for (const a of d.audit) row(audit, [fmtTime(a.timestamp), a.action, a.severity, JSON.stringify(a.details)], `audit-${a.action}`);
    byTestId('detail-settings').textContent = JSON.stringify(d.settings, null, 2);
    byTestId('detail-request').textContent = JSON.stringify(d.request, null, 2);
    byTestId('detail-workflow').textContent = d.workflow ? JSON.stringify(d.workflow, null, 2) : 'No workflow.';
  }

  async function init() {
    try {
      const m = /^\/admin\/requests\/([^/]+)$/.exec(window.location.pathname);
      if (m) await showDetail(decodeURIComponent(m[1]));
      else await showLog();
    } catch (err) {
      const banner = byTestId('load-error');
      banner.textContent = `Could not load: ${err.message}`;
      banner.hidden = false;
    } finally {
      document.body.dataset.ready = 'true';
    }
  }
  init();
})();
