// Admin console: settings, cost comparison, projections, live figures and the system flow.
// Plain browser JavaScript, no framework; talks to /v1/admin/* with the session cookie.
'use strict';

(function () {
  const STATS_REFRESH_MS = 15000;
  const $ = (sel, root) => (root || document).querySelector(sel);

  const state = { catalog: null, models: new Map(), saved: null, stats: null, window: '7d', statsTimer: null };
  const WINDOW_LABELS = { '1h': 'last hour', '24h': 'last 24 hours', '7d': 'last 7 days', '30d': 'last 30 days' };

  const { byTestId, fmtUsd, fmtPct, fmtInt, api } = window.WorkflowConsole;

  /** Writes a figure: its text, and the raw number in data-value for tests and tooling. */
  function setFigure(el, value, format) {
    if (!el) return;
    el.textContent = format(value);
    el.dataset.value = value === null || value === undefined || !Number.isFinite(value) ? '' : String(value);
  }

  async function loadHistory() {
    try {
      const h = await api('/v1/admin/settings/history?limit=10');
      const list = byTestId('settings-history');
      // The ladder's keys where the row has them (rows from before the ladder hold the seed's three).
      const chainOf = (s) => (Array.isArray(s.fallbackChain) && s.fallbackChain.length > 0 ? s.fallbackChain : [s.fallbackModel]);
      const ladderOf = (s) =>
        `${s.repairAttempts > 0 ? `, ${s.repairAttempts} repair${s.repairAttempts === 1 ? '' : 's'}` : ''}${s.maxCostPerRequestUsd ? `, cap $${s.maxCostPerRequestUsd}` : ''}`;
      const describe = (s) => (s && typeof s === 'object' ? `${label(s.primaryModel)} → ${s.enableFallback ? chainOf(s).map(label).join(' → ') : 'no fallback'}${ladderOf(s)}` : '—');
      list.replaceChildren(
        ...h.changes.map((c, i) => {
          const li = document.createElement('li');
          li.dataset.testid = `history-${i}`;
          li.textContent = `${new Date(c.at).toLocaleString()} · ${c.updatedBy || 'unknown'}: ${describe(c.old)} ⇒ ${describe(c.new)}`;
          return li;
        }),
      );
      if (h.changes.length === 0) list.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'No changes recorded yet.' }));
    } catch {
      // The history is a convenience: the settings card works without it.
    }
  }

  function showLoadError(message) {
    const el = byTestId('load-error');
    el.textContent = message;
    el.hidden = !message;
  }

  // ---- settings ----------------------------------------------------------------------------
  const primarySel = () => byTestId('primary-model');
  const fallbackSel = () => byTestId('fallback-model');
  const toggle = () => byTestId('fallback-toggle');

  function fillSelect(select) {
    select.textContent = '';
    for (const m of state.catalog.models) {
      const opt = document.createElement('option');
      opt.value = m.id;
      opt.textContent = `${m.label} (~${fmtUsd(m.costPerWorkflowUsd)}/workflow)`;
      opt.dataset.cost = String(m.costPerWorkflowUsd);
      select.appendChild(opt);
    }
  }

  function ensureOption(select, id) {
    if (![...select.options].some((o) => o.value === id)) {
      const opt = document.createElement('option');
      opt.value = String(id);
      opt.textContent = `${id} (not in the catalog)`;
      select.appendChild(opt);
    }
  }

  function applySettings(view) {
    state.saved = view;
    const s = view.settings;
    ensureOption(primarySel(), s.primaryModel);
    ensureOption(fallbackSel(), s.fallbackModel);
    primarySel().value = s.primaryModel;
    fallbackSel().value = s.fallbackModel;
    toggle().checked = s.enableFallback === true;
    const meta = byTestId('settings-meta');
    meta.textContent = view.updatedAt ? `Stored in system_settings_config · last updated ${new Date(view.updatedAt).toLocaleString()} by ${view.updatedBy || 'unknown'}` : 'Stored in system_settings_config (defaults).';
    if (!view.valid) showLoadError(`The stored settings are invalid (${view.problem}); workers keep their last good settings. Save valid settings to fix.`);
    syncControls();
    // The ladder's fields (ladder.js) take their stored values from the same view.
    window.woStoredSettings = view;
    document.dispatchEvent(new CustomEvent('wo:settings', { detail: view }));
  }

  function current() {
    return { primaryModel: primarySel().value, fallbackModel: fallbackSel().value, enableFallback: toggle().checked };
  }

  function syncControls() {
    const c = current();
    const on = c.enableFallback;
    fallbackSel().disabled = !on;
    byTestId('fallback-field').classList.toggle('is-disabled', !on);
    toggle().setAttribute('aria-checked', on ? 'true' : 'false');
    const p = state.models.get(c.primaryModel);
    const f = state.models.get(c.fallbackModel);
    byTestId('primary-help').textContent = p ? `${p.label}: ${p.description} About ${fmtUsd(p.costPerWorkflowUsd)} per workflow.` : '';
    byTestId('fallback-help').textContent = f
      ? on
        ? `${f.label}: ${f.description} About ${fmtUsd(f.costPerWorkflowUsd)} per workflow, paid only for requests that fall back.`
        : `${f.label}: not used while fallback is off.`
      : '';
    byTestId('toggle-help').textContent = on
      ? `On: a request whose ${p ? p.label : 'primary'} answer fails validation, or whose call fails, is retried on ${f ? f.label : 'the fallback model'}.`
      : `Off: the ${p ? p.label : 'primary'} answer is final; a failed validation ends the request as invalid. No fallback protection: watch validation failures closely.`;
    updateCosts();
  }

  async function save(event) {
    event.preventDefault();
    const status = byTestId('save-status');
    const errors = byTestId('save-errors');
    errors.hidden = true;
    errors.textContent = '';
    const next = Object.assign(current(), window.woLadder ? window.woLadder.values() : {});
    if (next.enableFallback && next.primaryModel === next.fallbackModel) {
      status.className = 'status failure';
      status.textContent = 'Not saved: the fallback model must differ from the primary while fallback is on.';
      return;
    }
    const button = byTestId('save-settings');
    button.disabled = true;
    status.className = 'status';
    status.textContent = 'Saving…';
    try {
      // If-Match: a save based on settings someone else changed since this page read them is refused.
      const ifMatch = state.saved && state.saved.etag ? { 'if-match': state.saved.etag } : {};
      const view = await api('/v1/admin/settings', { method: 'PUT', headers: Object.assign({ 'content-type': 'application/json', accept: 'application/json' }, ifMatch), body: JSON.stringify(next) });
      applySettings(view);
      showLoadError('');
      status.className = 'status success';
      status.textContent = `Settings saved at ${new Date().toLocaleTimeString()}. Workers apply them within 2 seconds.`;
      loadHistory();
    } catch (err) {
      status.className = 'status failure';
      status.textContent = `Not saved: ${err.message}`;
      if (err.status === 412 && err.details) {
        const who = err.details.updatedBy || 'someone';
        const when = err.details.updatedAt ? new Date(err.details.updatedAt).toLocaleString() : 'meanwhile';
        status.textContent = `Not saved: ${who} changed the settings at ${when}, after this page loaded them. Reload the page to see their change, then save again.`;
        status.dataset.conflict = 'true';
        loadHistory();
      }
      if (Array.isArray(err.details)) {
        for (const d of err.details) {
          const li = document.createElement('li');
          li.textContent = `${d.path || '/'}: ${d.message}`;
          errors.appendChild(li);
        }
        errors.hidden = false;
      }
    } finally {
      button.disabled = false;
    }
  }

  // ---- cost comparison and projections -----------------------------------------------------
  /**
   * A projection input, or NaN with a message under the field when it is out of range: a value
   * silently clamped (150% read as 100%) would project something the operator did not ask for.
   */
  function readField(el, { min, max, integer, message }) {
    const n = Number(el.value);
    const ok = el.value.trim() !== '' && Number.isFinite(n) && n >= min && n <= max && (!integer || Number.isInteger(n));
    const error = byTestId(`${el.dataset.testid}-error`);
    el.setAttribute('aria-invalid', ok ? 'false' : 'true');
    if (error) {
      error.textContent = ok ? '' : message;
      error.hidden = ok;
    }
    return ok ? n : NaN;
  }

  /** Per-workflow cost of each scenario: the primary always runs; the fallback runs for `rate` of requests. */
  function scenarios(primaryCost, fallbackCost, rate, ladderCosts, repairAttempts) {
    return {
      primaryOnly: primaryCost,
      fallbackOnly: fallbackCost,
      blended: ladderCosts ? ladderCost([primaryCost, ...ladderCosts], rate, repairAttempts).expected : primaryCost + rate * fallbackCost,
    };
  }

  /**
   * The whole ladder's cost per workflow: an answer fails at `rate` on every step; a failing
   * answer is re-asked up to `repairs` times (each repair failing at `rate` too), and the request
   * goes to the next step when all of them failed. With no repair and a chain of one this is the
   * seed's primary + rate × fallback. `worst`: every step and every repair runs.
   */
  function ladderCost(stepCosts, rate, repairs) {
    let tries = 0;
    for (let j = 0; j <= repairs; j++) tries += rate ** j;
    const leave = rate ** (repairs + 1);
    let reach = 1;
    let expected = 0;
    for (const c of stepCosts) {
      expected += reach * c * tries;
      reach *= leave;
    }
    return { expected, worst: stepCosts.reduce((a, c) => a + c * (repairs + 1), 0) };
  }

  function fillRow(row, perWorkflow, volume, baselinePerWorkflow) {
    const monthly = perWorkflow * volume;
    const annual = monthly * 12;
    const savings = (baselinePerWorkflow - perWorkflow) * volume * 12;
    setFigure(byTestId('per-workflow', row), perWorkflow, fmtUsd);
    setFigure(byTestId('monthly', row), monthly, fmtUsd);
    setFigure(byTestId('annual', row), annual, fmtUsd);
    setFigure(byTestId('annual-savings', row), savings, fmtUsd);
  }

  function updateCosts() {
    if (!state.catalog) return;
    const c = current();
    const p = state.models.get(c.primaryModel);
    const f = state.models.get(c.fallbackModel);
    if (!p || !f) return;
    const volume = readField(byTestId('projection-volume'), { min: 0, max: 1e12, integer: true, message: 'Enter a whole number of workflows, 0 or more.' });
    const ratePct = readField(byTestId('projection-fallback-rate'), { min: 0, max: 100, integer: false, message: 'Enter a rate from 0 to 100%.' });
    const ladder = window.woLadder ? window.woLadder.current() : null;
    // The fallback select is the chain's head (ladder.js may not have heard of its change yet).
    const chainModels = [f, ...(ladder ? ladder.chain.slice(1).filter((id) => id !== f.id).map((id) => state.models.get(id)).filter(Boolean) : [])];
    const repairAttempts = ladder ? ladder.repairAttempts : 0;
    const s = scenarios(p.costPerWorkflowUsd, f.costPerWorkflowUsd, ratePct / 100, chainModels.map((m) => m.costPerWorkflowUsd), repairAttempts);
    const whole = ladderCost([p, ...(c.enableFallback ? chainModels : [])].map((m) => m.costPerWorkflowUsd), ratePct / 100, repairAttempts);
    const ladderText = byTestId('ladder-projection');
    if (ladderText) {
      const steps = [p, ...(c.enableFallback ? chainModels : [])];
      ladderText.textContent = Number.isNaN(ratePct)
        ? ''
        : `Whole ladder (${steps.map((m) => m.label).join(' → ')}; ${repairAttempts === 0 ? 'no repair' : `up to ${repairAttempts} repair${repairAttempts === 1 ? '' : 's'} per step`}), each answer failing at ${ratePct}%: ${fmtUsd(whole.expected)} per workflow expected; ${fmtUsd(whole.worst)} when every step and repair runs.`;
      ladderText.dataset.value = String(whole.expected);
      ladderText.dataset.worst = String(whole.worst);
    }

    const rows = { primary: byTestId('cost-row-primary-only'), fallback: byTestId('cost-row-fallback-only'), blended: byTestId('cost-row-blended') };
    byTestId('scenario', rows.primary).textContent = `Primary only: ${p.label}`;
    byTestId('scenario', rows.fallback).textContent = `Fallback only: ${f.label}`;
    const further = chainModels.slice(1).map((m) => ` then ${m.label}`).join('');
    const repaired = repairAttempts > 0 ? `, ${repairAttempts} repair${repairAttempts === 1 ? '' : 's'}` : '';
    byTestId('scenario', rows.blended).textContent = `${p.label} + ${Number.isNaN(ratePct) ? '?' : ratePct}% fallback to ${f.label}${further}${repaired}`;
    fillRow(rows.primary, s.primaryOnly, volume, s.fallbackOnly);
    fillRow(rows.fallback, s.fallbackOnly, volume, s.fallbackOnly);
    fillRow(rows.blended, s.blended, volume, s.fallbackOnly);
    rows.primary.classList.toggle('is-selected', !c.enableFallback);
    rows.blended.classList.toggle('is-selected', c.enableFallback);

    // The configuration as selected: blended with fallback on, the primary alone with it off.
    const chosen = c.enableFallback ? s.blended : s.primaryOnly;
    const monthly = chosen * volume;
    const baselineMonthly = s.fallbackOnly * volume;
    byTestId('projection-scenario').textContent = Number.isNaN(volume) || Number.isNaN(ratePct)
      ? 'Correct the fields above to see the projection.'
      : c.enableFallback
      ? `${fmtInt(volume)} workflows a month on ${p.label}, ${ratePct}% of them also on ${f.label}.`
      : `${fmtInt(volume)} workflows a month on ${p.label} alone (fallback off).`;
    setFigure(byTestId('projection-monthly'), monthly, fmtUsd);
    setFigure(byTestId('projection-annual'), monthly * 12, fmtUsd);
    setFigure(byTestId('projection-savings-monthly'), baselineMonthly - monthly, fmtUsd);
    setFigure(byTestId('projection-savings-annual'), (baselineMonthly - monthly) * 12, fmtUsd);
    setFigure(byTestId('projection-savings-percent'), s.fallbackOnly > 0 ? ((s.fallbackOnly - chosen) / s.fallbackOnly) * 100 : null, fmtPct);
  }

  // ---- live figures ------------------------------------------------------------------------
  function badge(el, meets, okText, badText) {
    el.className = `badge${meets === true ? ' ok' : meets === false ? ' bad' : ''}`;
    el.textContent = meets === true ? okText : meets === false ? badText : '';
  }

  function cell(row, text, testid, value) {
    const td = document.createElement('td');
    td.textContent = text;
    if (testid) td.dataset.testid = testid;
    if (value !== undefined) td.dataset.value = value === null ? '' : String(value);
    row.appendChild(td);
    return td;
  }

  function fillTable(tbody, items, columns, rowTestId, emptyText) {
    tbody.textContent = '';
    if (items.length === 0) {
      const tr = document.createElement('tr');
      tr.className = 'empty';
      const td = cell(tr, emptyText);
      td.colSpan = columns;
      tbody.appendChild(tr);
      return [];
    }
    return items.map((item) => {
      const tr = document.createElement('tr');
      tr.dataset.testid = rowTestId(item);
      tbody.appendChild(tr);
      return tr;
    });
  }

  function label(id) {
    const m = state.models.get(id);
    return m ? m.label : id;
  }

  function renderStats(s) {
    state.stats = s;
    byTestId('stats-updated').textContent = `Updated ${new Date(s.generatedAt).toLocaleTimeString()}`;
    byTestId('flow-window').textContent = WINDOW_LABELS[s.window] ?? `last ${s.windowDays} days`;

    const fr = s.fallbackRate;
    setFigure(byTestId('fallback-rate-value'), fr.percent, fmtPct);
    badge(byTestId('fallback-rate-status'), fr.meetsTarget, `on target (≤ ${s.targets.fallbackRatePercent}%)`, `over target (${s.targets.fallbackRatePercent}%)`);
    byTestId('fallback-rate-detail').textContent = `${fmtInt(fr.fallbacks)} of ${fmtInt(fr.total)} generated workflows fell back · target ≤ ${s.targets.fallbackRatePercent}%`;

    // The primary's figures belong to the models that served as primary in the window (attempt
    // rows), not to the one configured now: after a switch they are different models.
    const served = s.flow.primaryModels.filter((m) => m.answered > 0);
    const answered = served.reduce((n, m) => n + m.answered, 0);
    const passed = served.reduce((n, m) => n + m.passed, 0);
    const pvPercent = answered > 0 ? Math.round((passed * 10_000) / answered) / 100 : null;
    setFigure(byTestId('primary-pass-rate-value'), pvPercent, fmtPct);
    badge(byTestId('primary-pass-rate-status'), pvPercent === null ? null : pvPercent >= s.targets.validationPassRatePercent, `on target (≥ ${s.targets.validationPassRatePercent}%)`, `under target (${s.targets.validationPassRatePercent}%)`);
    byTestId('primary-pass-rate-detail').textContent = served.length > 0
      ? `${served.map((m) => `${label(m.model)}: ${fmtInt(m.passed)} of ${fmtInt(m.answered)} answers valid`).join(' · ')} · target ≥ ${s.targets.validationPassRatePercent}%`
      : 'No primary answers in the window';

    setFigure(byTestId('cost-per-workflow-value'), s.costPerWorkflowUsd, fmtUsd);
    byTestId('cost-per-workflow-detail').textContent = `${fmtUsd(s.totals.spendUsd)} spent on ${fmtInt(s.totals.finishedRequests)} finished requests, ${fmtInt(s.totals.usableWorkflows)} usable workflows`;

    setFigure(byTestId('savings-value'), s.savings.savingsUsd, fmtUsd);
    byTestId('savings-value').dataset.percent = s.savings.savingsPercent === null ? '' : String(s.savings.savingsPercent);
    byTestId('savings-detail').textContent = `${fmtPct(s.savings.savingsPercent)} less than ${fmtUsd(s.savings.baselineUsd)} on ${label(s.savings.baselineModel)} only (${fmtUsd(s.savings.baselineCostPerWorkflowUsd)}/request, ${s.savings.baselineBasis})`;

    const vrows = fillTable($('#validation-body'), s.validation, 5, (v) => `validation-row-${v.model}`, 'No model answers in the window.');
    s.validation.forEach((v, i) => {
      const tr = vrows[i];
      cell(tr, label(v.model), 'model');
      cell(tr, fmtInt(v.answered), 'answered', v.answered);
      cell(tr, fmtInt(v.passed), 'passed', v.passed);
      const rate = cell(tr, '', 'rate');
      setFigure(rate, v.percent, fmtPct);
      const b = document.createElement('span');
      badge(b, v.meetsTarget, 'ok', 'low');
      rate.append(' ', b);
      const failures = Object.entries(v.failures).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
      cell(tr, failures.join(', ') || '—', 'failures');
    });

    const srows = fillTable($('#spend-body'), s.spendByGenerator, 4, (g) => `spend-row-${g.generator}`, 'No workflows generated in the window.');
    s.spendByGenerator.forEach((g, i) => {
      const tr = srows[i];
      cell(tr, label(g.generator), 'generator');
      cell(tr, fmtInt(g.workflows), 'workflows', g.workflows);
      setFigure(cell(tr, '', 'total'), g.totalCostUsd, fmtUsd);
      setFigure(cell(tr, '', 'average'), g.avgCostUsd, fmtUsd);
    });

    const mrows = fillTable($('#model-spend-body'), s.spendByModel, 3, (m) => `model-spend-row-${m.model}`, 'No model attempts in the window.');
    s.spendByModel.forEach((m, i) => {
      const tr = mrows[i];
      cell(tr, label(m.model), 'model');
      cell(tr, fmtInt(m.attempts), 'attempts', m.attempts);
      setFigure(cell(tr, '', 'spend'), m.costUsd, fmtUsd);
    });

    const f = s.flow;
    const edge = (id, n) => setFigure(byTestId('count', byTestId(id)), n, fmtInt);
    edge('flow-edge-enqueue-primary', f.pickedUp);
    edge('flow-edge-primary-validate', f.primaryAnswered);
    edge('flow-edge-validate-fallback', f.handovers);
    edge('flow-edge-fallback-persist', f.fallbackAttempts);
    edge('flow-edge-validate-persist', f.primaryPassed);
    byTestId('flow-waiting').textContent = f.waitingNow ? `${fmtInt(f.waitingNow.primary)} waiting now` : 'queue depth unavailable';
    const settings = state.saved ? state.saved.settings : null;
    const servedBy = (models, unit) => models.map((m) => `${label(m.model)} · ${fmtInt(m.attempts)} ${unit}${m.attempts === 1 ? '' : 's'}`).join(', ');
    byTestId('flow-primary-model').textContent = f.primaryModels.length > 0 ? servedBy(f.primaryModels, 'attempt') : 'no attempts in the window';
    byTestId('flow-fallback-model').textContent = f.fallbackModels.length > 0
      ? servedBy(f.fallbackModels, 'attempt')
      : settings && !settings.enableFallback ? 'off' : 'no attempts in the window';
    byTestId('flow-primary-call-failures').textContent = f.primaryCallFailures > 0 ? `${fmtInt(f.primaryCallFailures)} call failure${f.primaryCallFailures === 1 ? '' : 's'}` : '';
    byTestId('flow-validate-detail').textContent = `${fmtInt(f.primaryPassed)} passed · ${fmtInt(f.primaryFailedValidation)} failed`;
    byTestId('flow-fallback-detail').textContent = `${fmtInt(f.fallbackPassed)} valid · ${fmtInt(f.fallbackFailedValidation)} invalid`;
    const p = f.persisted;
    byTestId('flow-persisted').textContent = `${fmtInt(p.succeeded)} succeeded · ${fmtInt(p.invalid)} invalid · ${fmtInt(p.failed)} failed · ${fmtInt(p.rejected)} rejected${f.inProgress ? ` · ${fmtInt(f.inProgress)} in progress` : ''}`;
  }

  async function loadStats() {
    try {
      renderStats(await api(`/v1/admin/stats?window=${encodeURIComponent(state.window)}`));
    } catch (err) {
      byTestId('stats-updated').textContent = `Could not load figures: ${err.message}`;
    }
    // The spend chart and top spenders (spend.js) follow the same window and refresh with it.
    document.dispatchEvent(new CustomEvent('wo:window', { detail: { window: state.window } }));
  }

  function scheduleStats() {
    clearInterval(state.statsTimer);
    state.statsTimer = setInterval(() => {
      if (!document.hidden) loadStats();
    }, STATS_REFRESH_MS);
  }

  // ---- start -------------------------------------------------------------------------------
  async function init() {
    byTestId('settings-form').addEventListener('submit', save);
    for (const el of [primarySel(), fallbackSel(), toggle()]) el.addEventListener('change', syncControls);
    for (const el of [byTestId('projection-volume'), byTestId('projection-fallback-rate')]) el.addEventListener('input', updateCosts);
    for (const b of document.querySelectorAll('.segmented button')) {
      b.addEventListener('click', () => {
        state.window = b.dataset.window;
        for (const other of document.querySelectorAll('.segmented button')) other.setAttribute('aria-pressed', other === b ? 'true' : 'false');
        loadStats();
      });
    }
    byTestId('refresh-stats').addEventListener('click', loadStats);

    try {
      const [catalog, settings] = await Promise.all([api('/v1/admin/catalog'), api('/v1/admin/settings')]);
      state.catalog = catalog;
      state.models = new Map(catalog.models.map((m) => [m.id, m]));
      fillSelect(primarySel());
      fillSelect(fallbackSel());
      const u = catalog.usage;
      // One price per model, the same everywhere on the page: its own measured average, or an estimate.
      const measuredModels = catalog.models.filter((m) => m.costBasis === 'measured');
      const own = measuredModels.length > 0
        ? `${measuredModels.map((m) => m.label).join(', ')}: ${measuredModels.length === 1 ? 'its' : 'each its'} own average cost per successful attempt over the last ${catalog.windowDays} days. `
        : '';
      const rest = measuredModels.length > 0 ? 'Other models' : 'Every model';
      byTestId('cost-basis').textContent = own + (
        catalog.basis === 'measured'
          ? `${rest}: catalog prices on the last ${catalog.windowDays} days' average workflow (${fmtInt(catalog.sampleSize)} successful attempts, ${fmtInt(u.inputTokens)} input and ${fmtInt(u.outputTokens)} output tokens).`
          : `${rest}: catalog prices on a typical workflow of ${fmtInt(u.inputTokens)} input and ${fmtInt(u.outputTokens)} output tokens (fewer than 20 successful attempts in the last ${catalog.windowDays} days to measure).`);
      byTestId('cost-basis').dataset.basis = catalog.basis;
      for (const el of [primarySel(), toggle(), byTestId('save-settings')]) el.disabled = false;
      applySettings(settings);
      loadHistory();
      // Let the stored values render without transitions, then turn animations on.
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      document.body.classList.remove('preload');
      document.body.dataset.ready = 'true';
    } catch (err) {
      document.body.classList.remove('preload');
      showLoadError(`Could not load the settings: ${err.message}`);
    }
    await loadStats();
    document.body.dataset.statsReady = 'true';
    scheduleStats();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
