// The console's Models section and the model lifecycle warnings (issue 14). Kept apart from
// admin.js: it reads /v1/admin/models and /v1/admin/settings on its own and writes only into
// the elements it owns (#model-lifecycle, #settings-lifecycle, the models card).
'use strict';

(() => {
  const FIELDS = [
    ['id', 'Id', 'text'], ['provider', 'Provider', 'select:openai,anthropic,openai-compatible'], ['api_model', 'Vendor model name', 'text'],
    ['label', 'Label', 'text'], ['description', 'Description', 'text'], ['base_url', 'Base URL (empty: the provider’s)', 'text'],
    ['api_key_env', 'Key variable name (never the key)', 'text'], ['structured_output', 'Structured output', 'select:json_schema,tool,json_object,prompt'],
    ['temperature', 'Temperature (empty: not sent)', 'number'], ['token_limit_param', 'Token-limit parameter', 'select:max_completion_tokens,max_tokens'],
    ['reasoning_effort', 'Reasoning effort', 'select:,none,minimal,low,medium,high,xhigh'],
    ['price_input_per_mtok', 'Input $/MTok', 'text'], ['price_output_per_mtok', 'Output $/MTok', 'text'],
    ['price_cached_input_per_mtok', 'Cached input $/MTok', 'text'], ['price_cache_write_per_mtok', 'Cache write $/MTok', 'text'],
    ['price_source_url', 'Price source URL', 'text'], ['price_read_at', 'Prices read on (YYYY-MM-DD)', 'text'],
    ['context_window_tokens', 'Context window (tokens)', 'int'], ['max_output_tokens', 'Max output tokens', 'int'], ['timeout_ms', 'Timeout (ms)', 'int'],
    ['deprecated_at', 'Deprecated on', 'text'], ['shutdown_at', 'Shutdown on', 'text'], ['replacement_id', 'Replacement model id', 'text'],
    ['lifecycle_source_url', 'Lifecycle source URL', 'text'], ['enabled', 'Enabled', 'checkbox'],
  ];
  const DAY_MS = 86_400_000;
  const SOON_DAYS = 30;
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'testid') e.dataset.testid = v;
      else if (v !== null && v !== undefined) e.setAttribute(k, v);
    }
    if (text !== undefined) e.textContent = text;
    return e;
  };
  let models = [];

  async function api(method, path, body) {
    const res = await fetch(path, { method, credentials: 'same-origin', headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    const json = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
    return { status: res.status, body: json };
  }

  /** "retires in 41 days → gpt-6-luna", "retired → claude-sonnet-4-6", "disabled", or "". */
  function lifecycleText(m, now) {
    if (!m.enabled) return { text: 'disabled', cls: 'bad' };
    if (!m.shutdown_at) return { text: '', cls: '' };
    const left = Date.parse(m.shutdown_at) - now;
    const to = m.replacement_id ? ` → ${m.replacement_id}` : '';
    if (left <= 0) return { text: `retired${to}`, cls: 'bad' };
    const days = Math.ceil(left / DAY_MS);
    return { text: `retires in ${days} day${days === 1 ? '' : 's'}${to}`, cls: days <= SOON_DAYS ? 'warn' : '' };
  }

  function renderTable() {
    const body = $('models-body');
    body.replaceChildren();
    const now = Date.now();
    for (const m of models) {
      const tr = el('tr', { testid: `model-row-${m.id}` });
      tr.append(el('th', { scope: 'row' }, m.id), el('td', {}, m.label), el('td', {}, m.provider), el('td', {}, m.api_model));
      tr.append(el('td', { class: 'num' }, m.price_input_per_mtok), el('td', { class: 'num' }, m.price_output_per_mtok));
      const life = lifecycleText(m, now);
      const td = el('td');
      td.append(el('span', { class: `badge ${life.cls}`, testid: 'model-lifecycle' }, life.text));
      tr.append(td);
      const edit = el('button', { type: 'button', class: 'link', testid: 'edit-model' }, 'Edit');
      edit.addEventListener('click', () => openForm(m));
      const cell = el('td');
      cell.append(edit);
      tr.append(cell);
      body.append(tr);
    }
  }

  function openForm(m) {
    const form = $('model-form');
    form.hidden = false;
    form.dataset.mode = m ? 'edit' : 'create';
    $('model-form-title').textContent = m ? `Edit ${m.id}` : 'Add a model';
    for (const [name, , kind] of FIELDS) {
      const input = form.elements.namedItem(name);
      const value = m ? m[name] : name === 'enabled' ? true : '';
      if (kind === 'checkbox') input.checked = value !== false;
      else input.value = value === null || value === undefined ? '' : String(value);
      if (name === 'id') input.readOnly = Boolean(m);
    }
    clearErrors();
    $('model-status').textContent = '';
    form.elements.namedItem(m ? 'label' : 'id').focus();
  }

  function clearErrors() {
    for (const p of document.querySelectorAll('#model-form .field-error')) {
      p.textContent = '';
      p.hidden = true;
    }
    for (const i of document.querySelectorAll('#model-form [aria-invalid]')) i.removeAttribute('aria-invalid');
  }

  function documentFromForm(form) {
    const doc = {};
    for (const [name, , kind] of FIELDS) {
      if (name === 'id') continue;
      const input = form.elements.namedItem(name);
      if (kind === 'checkbox') doc[name] = input.checked;
      else if (input.value.trim() === '') doc[name] = null;
      else if (kind === 'int' || kind === 'number') doc[name] = Number(input.value);
      else doc[name] = input.value.trim();
    }
    return doc;
  }

  async function save(event) {
    event.preventDefault();
    const form = $('model-form');
    clearErrors();
    const id = form.elements.namedItem('id').value.trim();
    const status = $('model-status');
    if (!id) return showErrors([{ path: '/id', message: 'is required' }]);
    status.textContent = 'Saving…';
    const r = await api('PUT', `/v1/admin/models/${encodeURIComponent(id)}`, documentFromForm(form));
    if (r.status === 200 || r.status === 201) {
      // Said once the table shows the stored row, so what the page reads as saved is what it lists.
      await load();
      status.textContent = r.status === 201 ? `Added ${id}.` : `Saved ${id}.`;
      return;
    }
    status.textContent = r.body?.error?.message ?? `Not saved (HTTP ${r.status}).`;
    showErrors(r.body?.error?.details ?? []);
  }

  function showErrors(details) {
    for (const d of details) {
      const name = String(d.path || '').replace(/^\//, '');
      const p = document.querySelector(`#model-form [data-error-for="${CSS.escape(name)}"]`);
      const input = $('model-form').elements.namedItem(name);
      if (input) input.setAttribute('aria-invalid', 'true');
      if (p) {
        p.textContent = d.message;
        p.hidden = false;
      }
    }
  }

  function buildForm() {
    const grid = $('model-fields');
    for (const [name, label, kind] of FIELDS) {
      const wrap = el('div', { class: 'field' });
      const inputId = `model-${name}`;
      const lab = el('label', { for: inputId }, label);
      let input;
      if (kind.startsWith('select:')) {
        input = el('select', { id: inputId, name, testid: `model-field-${name}` });
        for (const v of kind.slice(7).split(',')) input.append(el('option', { value: v }, v || '(none)'));
      } else if (kind === 'checkbox') {
        input = el('input', { id: inputId, name, type: 'checkbox', testid: `model-field-${name}` });
      } else {
        input = el('input', { id: inputId, name, type: kind === 'int' || kind === 'number' ? 'number' : 'text', step: kind === 'number' ? '0.01' : null, testid: `model-field-${name}` });
      }
      const err = el('p', { class: 'field-error', 'data-error-for': name, testid: `model-error-${name}`, role: 'alert' });
      err.hidden = true;
      wrap.append(lab, input, err);
      grid.append(wrap);
    }
  }

  /** The red banner for a configured model already retired, the settings card's 30-day warning. */
  /** The retirement banners and warnings of the models the settings name; `view`: a settings response already in hand. */
  async function renderLifecycle(view) {
    const settings = view || (await api('GET', '/v1/admin/settings')).body;
    const top = $('model-lifecycle');
    const card = $('settings-lifecycle');
    top.replaceChildren();
    card.replaceChildren();
    for (const w of settings?.lifecycle ?? []) {
      const to = w.replacementId ? ` Its replacement is ${w.replacementLabel ?? w.replacementId} (${w.replacementId}).` : '';
      const day = w.shutdownAt.slice(0, 10);
      if (w.retired) {
        top.append(el('p', { class: 'banner error', role: 'alert', testid: `retired-banner-${w.role}` }, `The ${w.role} model ${w.model} was retired by its vendor on ${day}: its calls fail and hand over.${to}`));
      } else {
        card.append(el('p', { class: 'banner warn', testid: `retiring-warning-${w.role}` }, `The ${w.role} model ${w.model} retires in ${w.daysLeft} day${w.daysLeft === 1 ? '' : 's'} (${day}).${to}`));
      }
    }
  }

  async function load() {
    const r = await api('GET', '/v1/admin/models');
    if (r.status !== 200) return;
    models = r.body.models;
    renderTable();
    await renderLifecycle();
    document.body.dataset.modelsReady = 'true';
  }

  document.addEventListener('DOMContentLoaded', () => {
    if (!$('models-card')) return;
    buildForm();
    $('add-model').addEventListener('click', () => openForm(null));
    $('model-form').addEventListener('submit', save);
    $('model-cancel').addEventListener('click', () => {
      $('model-form').hidden = true;
    });
    // Stored settings (admin.js announces each save) can change the warnings.
    document.addEventListener('wo:settings', (e) => void renderLifecycle(e.detail));
    void load();
  });
})();
