// The seed design's three configurations as one-click presets on the settings card, and its rules
// for reading the fallback rate beside the live figure. Works on the page admin.js renders: a
// preset fills the form (admin.js recomputes the help and projections on 'change'); Save stores it.
(() => {
  'use strict';
  const { byTestId, fmtUsd } = window.WorkflowConsole;
  const RECOMMENDED = { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6' };
  const PRESETS = [
    {
      id: 'recommended',
      name: 'Recommended',
      settings: { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: true },
      note: 'The cheap primary with the strong fallback: automatic quality assurance, expected fallback rate under 5%.',
    },
    {
      id: 'max-savings',
      name: 'Maximum cost savings (testing only)',
      settings: { primaryModel: 'gpt-4o-mini', fallbackModel: 'claude-sonnet-4-6', enableFallback: false },
      note: 'Warning: no fallback protection. Monitor validation failures closely.',
    },
    {
      id: 'max-quality',
      name: 'Maximum quality',
      settings: { primaryModel: 'claude-sonnet-4-6', fallbackModel: 'gpt-4o-mini', enableFallback: false },
      note: 'The strong model alone: the highest cost, no saving against it.',
    },
  ];

  const costOf = (id) => {
    const opt = document.querySelector(`[data-testid="primary-model"] option[value="${id}"]`);
    return opt ? Number(opt.dataset.cost) : NaN;
  };
  /** Projected monthly cost of a preset at the volume and fallback rate typed into the projection. */
  function monthly(p) {
    const volume = Number(byTestId('projection-volume').value);
    const rate = Number(byTestId('projection-fallback-rate').value) / 100;
    const per = costOf(p.settings.primaryModel) + (p.settings.enableFallback ? rate * costOf(p.settings.fallbackModel) : 0);
    return Number.isFinite(volume) && volume >= 0 ? per * volume : NaN;
  }

  function apply(p) {
    const primary = byTestId('primary-model');
    const fallback = byTestId('fallback-model');
    const toggle = byTestId('fallback-toggle');
    primary.value = p.settings.primaryModel;
    fallback.value = p.settings.fallbackModel;
    toggle.checked = p.settings.enableFallback;
    for (const el of [primary, fallback, toggle]) el.dispatchEvent(new Event('change', { bubbles: true }));
    byTestId('preset-note').textContent = `${p.name}: ${p.note} Press Save settings to apply it.`;
    byTestId('preset-note').dataset.preset = p.id;
  }

  function renderCosts() {
    for (const p of PRESETS) {
      const el = byTestId(`preset-cost-${p.id}`);
      if (el) el.textContent = `${fmtUsd(monthly(p))}/month`;
    }
  }

  function markRecommended() {
    for (const [testid, id] of [['primary-model', RECOMMENDED.primaryModel], ['fallback-model', RECOMMENDED.fallbackModel]]) {
      const opt = document.querySelector(`[data-testid="${testid}"] option[value="${id}"]`);
      if (opt && !opt.textContent.includes('recommended')) opt.textContent += ' · recommended';
    }
  }

  /** The seed's reading rules for the fallback rate, shown when they apply. */
  function ruleFor(percent) {
    if (!Number.isFinite(percent)) return '';
    if (percent > 10) return "Above 10%: the primary model's prompts need work (seed guidance).";
    if (percent < 2) return 'Below 2%: fallback could be turned off for simple agents (seed guidance).';
    return '';
  }

  function start() {
    const box = byTestId('presets');
    for (const p of PRESETS) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'preset';
      b.dataset.testid = `preset-${p.id}`;
      const cost = document.createElement('span');
      cost.className = 'muted small';
      cost.dataset.testid = `preset-cost-${p.id}`;
      b.append(`${p.name} `, cost);
      b.addEventListener('click', () => apply(p));
      box.append(b);
    }
    markRecommended();
    renderCosts();
    for (const id of ['projection-volume', 'projection-fallback-rate']) byTestId(id).addEventListener('input', renderCosts);
    const value = byTestId('fallback-rate-value');
    const showRule = () => {
      const raw = value.dataset.value;
      byTestId('fallback-rate-rule').textContent = raw ? ruleFor(Number(raw)) : '';
    };
    new MutationObserver(showRule).observe(value, { attributes: true, attributeFilter: ['data-value'] });
    showRule();
  }

  // admin.js fills the dropdowns from the catalog, then marks the page ready.
  if (document.body.dataset.ready === 'true') start();
  else {
    const obs = new MutationObserver(() => {
      if (document.body.dataset.ready === 'true') {
        obs.disconnect();
        start();
      }
    });
    obs.observe(document.body, { attributes: true, attributeFilter: ['data-ready'] });
  }
})();
