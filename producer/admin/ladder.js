// The escalation ladder on the settings card: the fallback chain (add, remove, reorder, from the
// catalog), repair attempts and the cost cap; each step's handling of each failure kind in words;
// each model's circuit. Works on the page admin.js renders: admin.js announces the stored settings
// ('wo:settings'), reads window.woLadder.values() into its save, and prices the whole ladder with
// window.woLadder.current(). The fallback generator select is the chain's first step.
(() => {
  'use strict';
  const { byTestId, fmtUsd, fmtInt } = window.WorkflowConsole;
  /** The first call's output limit (worker/prompt.ts MAX_WORKFLOW_OUTPUT_TOKENS). */
  const FIRST_CALL_MAX_OUTPUT = 8192;
  const MAX_CHAIN = 5;

  const state = { chain: [], models: new Map(), usage: null, circuits: new Map() };

  const fallbackSel = () => byTestId('fallback-model');
  const primarySel = () => byTestId('primary-model');
  const toggle = () => byTestId('fallback-toggle');
  const repairSel = () => byTestId('repair-attempts');
  const capInput = () => byTestId('cost-cap');

  const label = (id) => (state.models.get(id) ? state.models.get(id).label : id);
  const times = (n) => (n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`);

  /** The cap typed in: null for none, a decimal string, or undefined when it is not an amount. */
  function capValue() {
    const text = capInput().value.trim();
    if (text === '') return null;
    return /^\d+(\.\d{1,12})?$/.test(text) && Number(text) > 0 ? text : undefined;
  }

  function repairs() {
    return Number(repairSel().value) || 0;
  }

  /** The chain's first step is the fallback select; a model never appears twice. */
  function setChain(next) {
    const seen = new Set();
    state.chain = next.filter((id) => id && !seen.has(id) && seen.add(id)).slice(0, MAX_CHAIN);
    if (state.chain.length > 0 && fallbackSel().value !== state.chain[0]) {
      fallbackSel().value = state.chain[0];
      fallbackSel().dispatchEvent(new Event('change', { bubbles: true }));
      return; // the change handler renders
    }
    render();
  }

  function circuitBadge(id) {
    const c = state.circuits.get(id);
    const span = document.createElement('span');
    span.className = `circuit ${c ? c.state : 'closed'}`;
    span.dataset.testid = `circuit-${id}`;
    span.dataset.state = c ? c.state : 'unknown';
    span.textContent = !c
      ? 'circuit: unknown'
      : c.state === 'open'
      ? `circuit open since ${new Date(c.openedAt).toLocaleTimeString()}: skipped`
      : c.state === 'half_open'
      ? 'circuit half-open: one probe call is testing it'
      : 'circuit closed';
    return span;
  }

  function button(text, testid, disabled, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'link';
    b.textContent = text;
    b.dataset.testid = testid;
    b.disabled = disabled;
    b.addEventListener('click', onClick);
    return b;
  }

  function renderChain() {
    const list = byTestId('chain-list');
    const n = state.chain.length;
    list.replaceChildren(
      ...state.chain.map((id, i) => {
        const li = document.createElement('li');
        li.dataset.testid = `chain-step-${i}`;
        li.dataset.model = id;
        const name = document.createElement('span');
        name.className = 'step-name';
        name.textContent = `${label(id)}${i === 0 ? ' (fallback generator)' : ''}`;
        const move = (from, to) => {
          const next = [...state.chain];
          [next[from], next[to]] = [next[to], next[from]];
          setChain(next);
        };
        li.append(
          name,
          circuitBadge(id),
          button('Move up', `chain-up-${i}`, i === 0, () => move(i, i - 1)),
          button('Move down', `chain-down-${i}`, i === n - 1, () => move(i, i + 1)),
          button('Remove', `chain-remove-${i}`, n === 1, () => setChain(state.chain.filter((_, j) => j !== i))),
        );
        return li;
      }),
    );
    const add = byTestId('chain-add-model');
    const keep = add.value;
    const primary = primarySel().value;
    add.replaceChildren(
      ...[...state.models.values()]
        .filter((m) => m.enabled && m.id !== primary && !state.chain.includes(m.id) && !(m.shutdownAt && Date.parse(m.shutdownAt) <= Date.now()))
        .map((m) => Object.assign(document.createElement('option'), { value: m.id, textContent: `${m.label} (~${fmtUsd(m.costPerWorkflowUsd)}/workflow)` })),
    );
    if ([...add.options].some((o) => o.value === keep)) add.value = keep;
    byTestId('chain-add').disabled = n >= MAX_CHAIN || add.options.length === 0;
  }

  /** Worst case of one call: the typical input and the whole output limit of a first call, at catalog prices. */
  function worstCaseUsd(id, outputTokens) {
    const m = state.models.get(id);
    if (!m || !state.usage) return NaN;
    const input = Math.max(Number(m.pricing.inputPerMTok), Number(m.pricing.cacheWritePerMTok));
    return ((state.usage.inputTokens * 1.5) * input + outputTokens * Number(m.pricing.outputPerMTok)) / 1e6;
  }

  /** What happens at each step for each failure kind, in words. */
  function renderSteps() {
    const box = byTestId('ladder-steps');
    const on = toggle().checked;
    const steps = [primarySel().value, ...(on ? state.chain : [])];
    const n = repairs();
    const cap = capValue();
    box.replaceChildren(
      ...steps.flatMap((id, i) => {
        const last = i === steps.length - 1;
        const next = last ? null : `step ${i + 2} (${label(steps[i + 1])})`;
        const m = state.models.get(id);
        const bigger = m && m.maxOutputTokens > FIRST_CALL_MAX_OUTPUT ? m.maxOutputTokens : null;
        const h = document.createElement('h4');
        h.textContent = `Step ${i + 1} · ${i === 0 ? 'primary' : 'fallback'} · ${label(id)}`;
        const lines = [
          ['invalid', `Answer fails validation (schema, semantic, unparseable): ${n > 0 ? `re-asked with its own errors, up to ${times(n)}, then ` : ''}${next ? `goes to ${next}` : 'the request ends invalid'}.`],
          ['truncated', `Answer cut off (truncated): ${n > 0 ? `re-asked ${bigger ? `with its larger limit of ${fmtInt(bigger)} output tokens` : 'with the same output limit (the catalog gives it no larger one)'}, up to ${times(n)}, then ` : ''}${next ? `goes to ${next}` : 'the request ends invalid'}.`],
          ['refusal', `Refusal or empty answer: ${next ? `goes to ${next}` : 'the request ends invalid'}.`],
          ['transient', `Timeout, server error or rate limit: ${next ? `goes to ${next}` : 'retried with backoff (a rate limit pauses the model for every replica) until the request’s deadline, then the request ends failed'}.`],
          ['permanent', `Model unavailable, auth error, quota exhausted or a refused request: ${next ? `goes to ${next}` : 'the request ends failed'} at once.`],
          ['circuit', next ? `Circuit open (its recent calls mostly failed): skipped, straight to ${next}.` : 'Circuit open (its recent calls mostly failed): called all the same, as the last step: there is nowhere else to go.'],
        ];
        if (cap) lines.push(['cap', `Not started when its worst-case price (about ${fmtUsd(worstCaseUsd(id, FIRST_CALL_MAX_OUTPUT))} a call) would take the request past the ${fmtUsd(Number(cap))} cap: the request ends failed (cost_cap).`]);
        const ul = document.createElement('ul');
        ul.dataset.testid = `ladder-step-${i}`;
        ul.append(...lines.map(([kind, text]) => Object.assign(document.createElement('li'), { textContent: text, className: `kind-${kind}` })));
        for (const li of ul.children) li.dataset.testid = `ladder-step-${i}-${li.className.slice(5)}`;
        return [h, ul];
      }),
    );
    if (!on) box.prepend(Object.assign(document.createElement('p'), { className: 'help', textContent: 'Fallback is off: the chain is kept but not used; the primary’s answer is final.' }));
  }

  function renderCapError() {
    const ok = capValue() !== undefined;
    const err = byTestId('cost-cap-error');
    capInput().setAttribute('aria-invalid', ok ? 'false' : 'true');
    err.textContent = ok ? '' : 'Enter an amount in USD above 0 (at most 12 decimals), or leave it empty for no cap.';
    err.hidden = ok;
  }

  function render() {
    if (state.models.size === 0) return;
    renderChain();
    renderSteps();
    renderCapError();
    byTestId('ladder-field').classList.toggle('is-disabled', !toggle().checked);
  }

  function onStored(view) {
    const l = view.ladder || {};
    const stored = Array.isArray(l.fallbackChain) && l.fallbackChain.length > 0 ? l.fallbackChain : [view.settings.fallbackModel];
    state.chain = [fallbackSel().value, ...stored.slice(1).filter((id) => id !== fallbackSel().value)];
    repairSel().value = String(l.repairAttempts ?? 0);
    capInput().value = l.maxCostPerRequestUsd === null || l.maxCostPerRequestUsd === undefined ? '' : String(l.maxCostPerRequestUsd);
    render();
  }

  async function loadCircuits() {
    try {
      const res = await fetch('/v1/admin/circuits', { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (!res.ok) return;
      const body = await res.json();
      state.circuits = new Map(body.circuits.map((c) => [c.model, c]));
      render();
      byTestId('ladder-field').dataset.circuitsLoaded = 'true';
    } catch {
      // The circuits are shown when Redis answers; the card works without them.
    }
  }

  window.woLadder = {
    /** The ladder's fields for the PUT (the fallback model is the chain's head). */
    values() {
      const cap = capValue();
      return { fallbackChain: [...state.chain], repairAttempts: repairs(), maxCostPerRequestUsd: cap === undefined ? capInput().value.trim() : cap };
    },
    /** For the projections. */
    current() {
      return { chain: [...state.chain], repairAttempts: repairs() };
    },
  };

  async function start() {
    try {
      const res = await fetch('/v1/admin/catalog', { credentials: 'same-origin', headers: { accept: 'application/json' } });
      const catalog = await res.json();
      state.models = new Map(catalog.models.map((m) => [m.id, m]));
      state.usage = catalog.usage;
    } catch {
      return;
    }
    fallbackSel().addEventListener('change', () => {
      state.chain = [fallbackSel().value, ...state.chain.slice(1).filter((id) => id !== fallbackSel().value)];
      render();
    });
    for (const el of [primarySel(), toggle(), repairSel()]) el.addEventListener('change', () => {
      render();
      // admin.js reprices the projections on a change of the fallback select.
      fallbackSel().dispatchEvent(new Event('change', { bubbles: true }));
    });
    capInput().addEventListener('input', render);
    byTestId('chain-add').addEventListener('click', () => {
      const id = byTestId('chain-add-model').value;
      if (id) setChain([...state.chain, id]);
      fallbackSel().dispatchEvent(new Event('change', { bubbles: true }));
    });
    document.addEventListener('wo:settings', (e) => onStored(e.detail));
    if (window.woStoredSettings) onStored(window.woStoredSettings);
    byTestId('ladder-field').dataset.ready = 'true';
    await loadCircuits();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
