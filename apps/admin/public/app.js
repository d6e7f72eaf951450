// The taskwire dashboard page: plain browser JavaScript and uPlot, no build step. It polls the server's JSON
// API (which samples the backend once for every page), draws one depth chart and one rate chart per queue, and
// asks before every action that changes data.
(() => {
  const KEEP = 300; // samples kept per queue, as on the server
  const token = takeToken();
  const charts = new Map(); // queue -> { depth, rate, data, box }
  let since = 0;
  let intervalMs = 2000;
  let snapshot = { queues: [], workers: [] };
  let deadShown = { queue: '', size: -1 };

  /** The token from `#token=…` (then dropped from the address bar), kept for this tab. */
  function takeToken() {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
      sessionStorage.setItem('taskwire-token', decodeURIComponent(match[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem('taskwire-token');
  }

  async function api(path, body) {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const init =
      body === undefined
        ? { headers }
        : {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          };
    const response = await fetch(path, init);
    const value = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) {
      throw Object.assign(new Error(value.error || `HTTP ${response.status}`), { code: value.code });
    }
    return value;
  }

  /** An element with properties and children (text is always set as text, never as HTML). */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key.startsWith('data-')) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const num = (value) => el('td', { className: 'n' }, value === undefined || value === null ? '–' : value);
  const rate = (value) => (value === null || value === undefined ? '–' : value.toFixed(1));

  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
  }

  function showProblem(message) {
    const problem = document.getElementById('problem');
    problem.hidden = !message;
    problem.textContent = message || '';
  }

  /** Queues that are another queue's dead-letter queue: shown as that queue's `dead` count, not on their own. */
  function deadLetterNames() {
    return new Set(snapshot.queues.map((q) => q.deadLetter.name));
  }

  /**
   * Task queues, the ones charted and offered for dead letters: those workers take from or whose dead-letter
   * queue exists (a master's result queue has neither). Every queue when none qualifies.
   */
  function taskQueues() {
    const listed = new Set(snapshot.queues.map((q) => q.name));
    const served = new Set(snapshot.workers.map((w) => w.queue));
    const dead = deadLetterNames();
    const queues = snapshot.queues.filter((q) => !dead.has(q.name));
    const tasks = queues.filter((q) => served.has(q.name) || listed.has(q.deadLetter.name));
    return new Set((tasks.length > 0 ? tasks : queues).map((q) => q.name));
  }

  function renderQueues() {
    const dead = deadLetterNames();
    const body = document.querySelector('#queues tbody');
    body.replaceChildren(
      ...snapshot.queues
        .filter((q) => !dead.has(q.name))
        .map((q) => {
          const last = charts.get(q.name)?.data[5].at(-1);
          return el(
            'tr',
            { 'data-queue': q.name },
            el('td', {}, q.name),
            num(q.ready),
            num(q.delayed),
            num(q.inFlight),
            num(q.consumers),
            num(q.deadLetter.size),
            el('td', { className: 'n' }, rate(last)),
          );
        }),
    );
  }

  function renderWorkers() {
    const body = document.querySelector('#workers tbody');
    document.getElementById('worker-count').textContent = `(${snapshot.workers.length})`;
    body.replaceChildren(
      ...snapshot.workers.map((w) =>
        el(
          'tr',
          { 'data-worker': w.id },
          el('td', {}, w.name),
          el('td', {}, w.host),
          num(w.pid),
          el('td', {}, w.queue),
          num(`${w.running.length}/${w.concurrency}`),
          num(w.tasksDone),
          num(w.tasksFailed),
          el('td', {}, ago(w.startedAt)),
          el('td', {}, `${ago(w.heartbeatAt)} ago`),
          el('td', {}, w.state),
        ),
      ),
    );
  }

  /** Add the new samples to each queue's columns: [t, ready, delayed, inFlight, dead, done/s, failed/s]. */
  function mergeHistory(history) {
    const charted = taskQueues();
    for (const [name, samples] of Object.entries(history)) {
      if (!charted.has(name) || samples.length === 0) continue;
      const chart = charts.get(name) ?? createChart(name);
      for (const s of samples) {
        const row = [s.t / 1000, s.ready, s.delayed, s.inFlight, s.dead, s.donePerSec, s.failedPerSec];
        for (const [i, value] of row.entries()) chart.data[i].push(value);
      }
      for (const column of chart.data) column.splice(0, Math.max(0, column.length - KEEP));
      chart.depth.setData(chart.data.slice(0, 5));
      chart.rate.setData([chart.data[0], chart.data[5], chart.data[6]]);
      chart.box.setAttribute('data-points', String(chart.data[0].length));
    }
    for (const [name, chart] of charts) {
      if (!charted.has(name)) {
        chart.box.remove();
        charts.delete(name);
      }
    }
  }

  function createChart(name) {
    const box = el('div', { className: 'chart', 'data-chart': name }, el('h3', {}, name));
    document.getElementById('charts').append(box);
    const size = { width: 420, height: 160 };
    const series = (label, stroke) => ({ label, stroke, width: 1.5, spanGaps: false });
    const depth = new uPlot(
      {
        ...size,
        title: 'depth',
        series: [
          {},
          series('ready', '#2563eb'),
          series('delayed', '#a855f7'),
          series('in flight', '#16a34a'),
          series('dead', '#dc2626'),
        ],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      },
      [[], [], [], [], []],
      box,
    );
    const rateChart = new uPlot(
      {
        ...size,
        title: 'tasks per second',
        series: [{}, series('done/s', '#16a34a'), series('failed/s', '#dc2626')],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      },
      [[], [], []],
      box,
    );
    const chart = { box, depth, rate: rateChart, data: [[], [], [], [], [], [], []] };
    charts.set(name, chart);
    return chart;
  }

  function renderDeadChoices() {
    const select = document.getElementById('dead-queue');
    const tasks = taskQueues();
    const names = snapshot.queues.filter((q) => tasks.has(q.name)).map((q) => q.name);
    const current = select.value;
    if (names.join('\n') !== [...select.options].map((o) => o.value).join('\n')) {
      select.replaceChildren(...names.map((name) => el('option', { value: name }, name)));
      // Default to the queue with the most dead letters.
      const fullest = [...snapshot.queues].sort((a, b) => b.deadLetter.size - a.deadLetter.size)[0];
      select.value = names.includes(current)
        ? current
        : fullest && names.includes(fullest.name)
          ? fullest.name
          : names[0] || '';
    }
    const queue = snapshot.queues.find((q) => q.name === select.value);
    if (queue && (queue.name !== deadShown.queue || queue.deadLetter.size !== deadShown.size)) {
      deadShown = { queue: queue.name, size: queue.deadLetter.size };
      void loadDead(queue.name);
    }
  }

  async function loadDead(queue) {
    const summary = document.getElementById('dead-summary');
    const rows = document.querySelector('#dead tbody');
    const stats = snapshot.queues.find((q) => q.name === queue);
    const counted = (size) => `${size} item${size === 1 ? '' : 's'}`;
    try {
      const { deadLetter, items } = await api(`api/dead?queue=${encodeURIComponent(queue)}`);
      const size = stats?.deadLetter.size ?? items.length;
      summary.textContent = `${deadLetter}: ${counted(size)}${size > items.length ? ` (first ${items.length} shown)` : ''}`;
      rows.replaceChildren(...items.map((item) => deadRow(queue, item)));
    } catch (error) {
      // A transport that cannot peek (RabbitMQ): say so where the items would be, for as long as they are not
      // shown (a problem banner is cleared by the next poll); Requeue all and Purge still work.
      if (error.code !== 'TASKWIRE_UNSUPPORTED' || !stats) return showProblem(error.message);
      summary.textContent = `${stats.deadLetter.name}: ${counted(stats.deadLetter.size)}, not listed (${error.message})`;
      rows.replaceChildren();
    }
  }

  function deadRow(queue, item) {
    const failure = item.error
      ? el(
          'details',
          {},
          el('summary', { className: 'error' }, `${item.error.name}: ${item.error.message}`),
          el('pre', {}, item.error.stack || '(no stack)'),
        )
      : el('span', { className: 'muted' }, item.poison ? 'not a task (poison message)' : 'no error recorded');
    const requeue = el('button', { type: 'button', textContent: 'Requeue' });
    requeue.addEventListener('click', () =>
      act(`Requeue item ${item.id} back to ${queue}?`, 'api/dead/requeue', { queue, ids: [item.id] }),
    );
    return el(
      'tr',
      { 'data-id': item.id },
      el('td', {}, item.id),
      el('td', {}, item.kind ?? '–'),
      num(item.attempts),
      el('td', {}, el('code', {}, JSON.stringify(item.payload)?.slice(0, 120) ?? '')),
      el('td', {}, failure),
      el('td', {}, requeue),
    );
  }

  /** Every action that changes data asks first. */
  async function act(question, path, body) {
    if (!confirm(question)) return;
    try {
      await api(path, body);
      deadShown = { queue: '', size: -1 };
      await poll();
    } catch (error) {
      showProblem(error.message);
    }
  }

  document.getElementById('requeue-all').addEventListener('click', () => {
    const queue = document.getElementById('dead-queue').value;
    if (queue) void act(`Requeue every dead item of ${queue} back to it?`, 'api/dead/requeue', { queue });
  });
  document.getElementById('purge-dead').addEventListener('click', () => {
    const queue = document.getElementById('dead-queue').value;
    if (queue)
      void act(`Delete every dead item of ${queue}? This cannot be undone.`, 'api/dead/purge', { queue });
  });
  document.getElementById('dead-queue').addEventListener('change', () => {
    deadShown = { queue: '', size: -1 };
    renderDeadChoices();
  });

  async function poll() {
    try {
      const state = await api(`api/state?since=${since}`);
      intervalMs = state.intervalMs;
      snapshot = state;
      for (const samples of Object.values(state.history)) {
        for (const s of samples) since = Math.max(since, s.t);
      }
      document.getElementById('transport').textContent = state.transport;
      document.getElementById('sampled').textContent = state.sampledAt
        ? `sampled ${new Date(state.sampledAt).toLocaleTimeString()}`
        : '';
      showProblem(state.error);
      mergeHistory(state.history);
      renderQueues();
      renderWorkers();
      renderDeadChoices();
    } catch (error) {
      showProblem(error.message);
    }
  }

  async function loop() {
    await poll();
    setTimeout(loop, intervalMs);
  }
  void loop();
})();
