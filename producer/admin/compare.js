// Side by side: two models' latest workflows for similar goals, from /v1/admin/side-by-side.
'use strict';

(function () {
  const { byTestId, fmtUsd, fmtTime, api } = window.WorkflowConsole;

  function el(tag, props, ...children) {
    const node = Object.assign(document.createElement(tag), props || {});
    for (const c of children) node.append(c);
    return node;
  }

  /** The steps as a nested list: each step's name and kind, so two workflows read at a glance. */
  function stepList(steps) {
    const ol = el('ol', { className: 'steps' });
    for (const s of steps || []) {
      const li = el('li', {}, el('strong', { textContent: s.name || s.id }), ` · ${s.type}${s.plugin ? ` ${s.plugin}.${s.action}` : ''}`);
      const nested = [...(s.then_steps || []), ...(s.else_steps || []), ...(s.body_steps || [])];
      if (nested.length > 0) li.append(stepList(nested));
      ol.append(li);
    }
    return ol;
  }

  function side(item, label, testid) {
    const box = el('div', { className: 'side' });
    box.dataset.testid = testid;
    box.append(
      el('h4', {}, `${label} · `, el('a', { href: `/admin/requests/${encodeURIComponent(item.id)}`, textContent: item.id })),
      el('p', { className: 'goal', textContent: item.goal }),
      el('p', { className: 'muted small', textContent: `${item.userId || '—'} / ${item.agentId || '—'} · ${item.steps ?? '?'} steps · ${fmtUsd(item.costUsd)} · ${fmtTime(item.finishedAt)}${item.fallbackReason ? ` · fell back (${item.fallbackReason})` : ''}` }),
      stepList(item.workflow && item.workflow.pilot_steps),
      el('details', {}, el('summary', { textContent: 'Workflow JSON' }), el('pre', { className: 'json', textContent: JSON.stringify(item.workflow, null, 2) })),
    );
    return box;
  }

  async function init() {
    try {
      const params = new URLSearchParams(window.location.search);
      const catalog = await api('/v1/admin/catalog');
      const labels = new Map(catalog.models.map((m) => [m.id, m.label]));
      const query = new URLSearchParams();
      for (const name of ['modelA', 'modelB', 'window', 'limit']) if (params.get(name)) query.set(name, params.get(name));
      const view = await api(`/v1/admin/side-by-side?${query}`);
      for (const [name, value] of [['modelA', view.modelA], ['modelB', view.modelB]]) {
        const select = document.querySelector(`#compare-form [name="${name}"]`);
        const ids = new Set([...catalog.models.map((m) => m.id), value]);
        select.replaceChildren(...[...ids].map((id) => el('option', { value: id, textContent: labels.get(id) || id })));
        select.value = value;
      }
      if (params.get('window')) document.querySelector('#compare-form [name="window"]').value = params.get('window');
      const a = labels.get(view.modelA) || view.modelA;
      const b = labels.get(view.modelB) || view.modelB;
      byTestId('compare-summary').textContent = `${view.pairs.length} pair${view.pairs.length === 1 ? '' : 's'} from ${view.candidates.a} usable workflows of ${a} and ${view.candidates.b} of ${b}. Similar: ${view.similarity}.`;
      const pairs = document.getElementById('pairs');
      pairs.replaceChildren(
        ...view.pairs.map((p, i) => {
          const box = el('article', { className: 'pair' });
          box.dataset.testid = `pair-${i}`;
          const why = p.basis === 'same_agent' ? `same agent ${p.a.agentId}` : `${Math.round(p.similarity * 100)}% of their words shared: ${p.sharedWords.join(', ')}`;
          box.append(el('p', { className: 'muted small', textContent: `Similar goals: ${why}` }), el('div', { className: 'sides' }, side(p.a, a, 'side-a'), side(p.b, b, 'side-b')));
          return box;
        }),
      );
      if (view.pairs.length === 0) pairs.append(el('p', { className: 'muted', textContent: `No similar goals found among the two models' workflows in the window.` }));
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
