// The hub's explorer page: builds a EUCAIM search AST from the form, posts it to
// /api/v1/search asking for server-sent events, and fills in one row per node as the
// nodes answer. No build step: plain browser JavaScript.
(function () {
  'use strict';
  const form = document.getElementById('explorer');
  if (!form) return;
  const astOut = document.getElementById('ast');
  const errBox = document.getElementById('search-error');
  const results = document.getElementById('results');
  const rows = document.getElementById('result-rows');
  const statusLine = document.getElementById('search-status');
  const download = document.getElementById('download');
  const runButton = document.getElementById('run');

  function csrf() {
    try { return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRF-Token'] || ''; } catch (e) { return ''; }
  }

  // The query: per group, the AND of its keys' conditions; the groups joined by the
  // chosen operand. Codes of one key are alternatives: IN (EQUALS for one).
  function buildQuery() {
    const groups = [];
    for (const fs of form.querySelectorAll('.explorer-group')) {
      const leaves = [];
      for (const k of fs.querySelectorAll('.explorer-key')) {
        const key = k.dataset.key;
        if (k.dataset.kind === 'number') {
          const min = k.querySelector('[data-bound=min]').value.trim();
          const max = k.querySelector('[data-bound=max]').value.trim();
          if (min === '' && max === '') continue;
          const v = {};
          if (min !== '') v.min = Number(min);
          if (max !== '') v.max = Number(max);
          leaves.push({ key: key, type: 'BETWEEN', value: v });
        } else {
          const codes = Array.from(k.querySelectorAll('input[type=checkbox]:checked')).map((c) => c.value);
          if (codes.length === 1) leaves.push({ key: key, type: 'EQUALS', value: codes[0] });
          else if (codes.length > 1) leaves.push({ key: key, type: 'IN', value: codes });
        }
      }
      if (leaves.length > 0) groups.push({ operand: 'AND', children: leaves });
    }
    return { ast: { operand: form.querySelector('#operand').value, children: groups } };
  }

  function showAST() { astOut.textContent = JSON.stringify(buildQuery(), null, 2); }
  form.addEventListener('change', showAST);
  form.addEventListener('input', showAST);
  form.addEventListener('reset', () => setTimeout(showAST, 0));
  showAST();

  // A single-code key (no IN) keeps one box ticked.
  form.addEventListener('change', (ev) => {
    const box = ev.target;
    if (box.type !== 'checkbox' || !box.checked) return;
    const k = box.closest('.explorer-key');
    if (k && k.dataset.single) for (const o of k.querySelectorAll('input[type=checkbox]')) if (o !== box) o.checked = false;
  });

  // Autocomplete: picking a name from the list ticks its box.
  const find = document.getElementById('find-code');
  find.addEventListener('input', () => {
    const opt = Array.from(document.querySelectorAll('#code-names option')).find((o) => o.value === find.value);
    if (!opt) return;
    const box = form.querySelector('.explorer-key[data-key="' + CSS.escape(opt.dataset.key) + '"] input[value="' + CSS.escape(opt.dataset.code) + '"]');
    if (box) {
      box.checked = true;
      box.dispatchEvent(new Event('change', { bubbles: true }));
      box.closest('.explorer-key').classList.add('flash');
      setTimeout(() => box.closest('.explorer-key').classList.remove('flash'), 1200);
    }
    find.value = '';
  });

  const statusText = {
    waiting: 'waiting for the node…',
    ok: 'answered',
    refused: 'refused',
    error: 'error at the node',
    offline: 'offline: not asked',
    timeout: 'did not answer in time',
    unreachable: 'did not answer',
    'bad-answer': 'unreadable answer',
  };

  function cell(tr, i) { return tr.children[i]; }

  function row(node) {
    let tr = rows.querySelector('tr[data-node="' + CSS.escape(node) + '"]');
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.node = node;
      for (let i = 0; i < 6; i++) tr.appendChild(document.createElement('td'));
      cell(tr, 0).textContent = node;
      cell(tr, 2).className = 'num';
      cell(tr, 3).className = 'num';
      rows.appendChild(tr);
    }
    return tr;
  }

  function setStatus(tr, status, message) {
    tr.dataset.status = status;
    const c = cell(tr, 1);
    c.textContent = '';
    const pill = document.createElement('span');
    pill.className = 'pill search-' + status;
    pill.textContent = statusText[status] || status;
    c.appendChild(pill);
    if (message) {
      const m = document.createElement('div');
      m.className = 'muted small node-message';
      m.textContent = message;
      c.appendChild(m);
    }
  }

  function fill(r) {
    const tr = row(r.node);
    setStatus(tr, r.status, r.message);
    const answered = r.status === 'ok';
    cell(tr, 2).textContent = answered ? r.subjects.text : '—';
    cell(tr, 3).textContent = answered ? r.studies.text : '—';
    const ds = cell(tr, 4);
    ds.textContent = '';
    if (r.unsupported && r.unsupported.length) {
      const u = document.createElement('div');
      u.className = 'unsupported small';
      u.textContent = 'Not supported here: ' + r.unsupported.join(', ');
      ds.appendChild(u);
    }
    for (const c of r.collections || []) {
      const d = document.createElement('div');
      d.className = 'small collection';
      d.dataset.collection = c.id;
      let s = (c.name || c.id) + ': ' + c.subjects_count + ' subjects, ' + c.studies_count + ' studies';
      if (c.age_range) s += ', age ' + c.age_range.min + '–' + c.age_range.max;
      if (c.modalities && c.modalities.length) s += ', ' + c.modalities.join('/');
      d.textContent = s;
      ds.appendChild(d);
    }
    if (answered && !(r.collections || []).length) ds.textContent = 'no matching dataset';
    const b = cell(tr, 5);
    b.textContent = r.budget ? (r.budget.remaining.toFixed(2) + ' left (' + r.budget.spent.toFixed(2) + ' spent)') : '';
    if (r.elapsed_ms) cell(tr, 0).title = r.elapsed_ms + ' ms';
  }

  function onEvent(name, data) {
    const v = JSON.parse(data);
    if (name === 'start') {
      rows.textContent = '';
      for (const n of v.nodes) setStatus(row(n.node), n.asked ? 'waiting' : 'offline', '');
      statusLine.textContent = 'Asking ' + v.nodes.filter((n) => n.asked).length + ' of ' + v.nodes.length + ' nodes · ' + v.hash.slice(0, 19) + '…';
      results.dataset.state = 'running';
    } else if (name === 'node') {
      fill(v);
    } else if (name === 'done') {
      for (const n of v.nodes) fill(n);
      const answered = v.nodes.filter((n) => n.status === 'ok').length;
      document.getElementById('total-subjects').textContent = answered ? v.subjects.text : '—';
      document.getElementById('total-studies').textContent = answered ? v.studies.text : '—';
      statusLine.textContent = answered + ' of ' + v.nodes.length + ' nodes answered · query ' + v.hash.slice(0, 19) + '…';
      download.href = '/api/v1/search/' + encodeURIComponent(v.id) + '?download=1';
      download.hidden = false;
      results.dataset.state = 'done';
    } else if (name === 'error') {
      showError(v.error);
    }
  }

  function showError(text) {
    errBox.textContent = text;
    errBox.hidden = false;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errBox.hidden = true;
    download.hidden = true;
    results.hidden = false;
    results.dataset.state = 'asking';
    rows.textContent = '';
    document.getElementById('total-subjects').textContent = '';
    document.getElementById('total-studies').textContent = '';
    statusLine.textContent = 'Asking the nodes…';
    runButton.disabled = true;
    try {
      const res = await fetch('/api/v1/search', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', 'X-CSRF-Token': csrf() },
        body: JSON.stringify(buildQuery()),
        credentials: 'same-origin',
      });
      if (!res.ok) {
        let msg = res.status + ' ' + res.statusText;
        try {
          const p = await res.json();
          msg = p.error + (p.path ? ' (at ' + p.path + ')' : '');
        } catch (e) { /* not JSON */ }
        results.hidden = true;
        showError(msg);
        return;
      }
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let name = 'message';
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) name = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) onEvent(name, data.join('\n'));
        }
      }
    } catch (e) {
      showError('The search failed: ' + e.message);
    } finally {
      runButton.disabled = false;
    }
  });
})();
