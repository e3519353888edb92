// The ccpulse supervisor wallboard: live queue tiles, an agent grid and the active
// service-level alerts for one tenant.
//
// What it does
// - Token: taken from the URL fragment `#token=ccp_…` (stored in localStorage
//   `ccpulse.token`, then the fragment is removed with history.replaceState), else from
//   localStorage, else asked for in a form. It is checked with GET /api/v1/me
//   (`Authorization: Bearer …`); the header then shows the tenant and role. A 401 shows
//   the form with the server's message. "Sign out" forgets the token.
// - Data: GET /api/v1/queues and GET /api/v1/agents paint the board at once, then the
//   WebSocket keeps it live:
//     new WebSocket(ws[s]://host/api/v1/stream?access_token=TOKEN)
//     → {"type":"subscribe","id":"wall","topic":"tenant"}   (+ "queues" when the token
//                                                             is limited to some queues)
//     ← {"type":"snapshot","id":"wall","seq":1,"as_of":…,"queues":[…],"agents":[…],
//         "alerts":[…]}
//         replaces everything (no `alerts`, from a server without alerting: none);
//     ← {"type":"delta","id":"wall","seq":n,"as_of":…,
//         "queues":{"upsert":[…],"remove":[id…]},"agents":{"upsert":[…],"remove":[id…]},
//         "alerts":{"upsert":[…],"remove":[id…]}}
//         upserts/removes rows by queue_id / agent_id / alert_id (a missing key changes
//         nothing; a delta not newer than the last seq is ignored);
//     ← {"type":"heartbeat"} every 15 s; ← {"type":"error",…} is shown on the status line;
//     → {"type":"ping"} every 15 s so the server does not close us as silent (4408).
//   On close the page reconnects with exponential backoff (1 s … 30 s, jittered) and a
//   fresh snapshot replaces the board; close code 4401 (token missing or invalid) shows
//   the token form with the reason instead. A connection silent for 45 s is dropped and
//   reconnected. `document.body.dataset.connection` is "connecting", "live" or "closed".
// - Display: per queue waiting now, oldest wait (mm:ss, ticking, flagged past the
//   queue's sl_threshold_s), SL now (current interval) and SL today against the target
//   ("missed" below target, "at risk" within 5 points above it, else "met", "no data"
//   for null; colour and text label), ASA, abandon rate, agents by state. The agent grid
//   shows state (+ reason), time in state (ticking every second from when the row was
//   received: time_in_state_ms is as of the data, not of our clock), queues, team,
//   channels. Values are updated in place: a delta touches only its rows.
// - Alerts (pending and firing; resolved ones are removed by the server): a strip
//   above the tiles, hidden when there are none, with the count, then one item per
//   alert: firing before pending, critical before warning, then the longest-running
//   first. Each shows its severity, message, how long it has been firing (or pending,
//   ticking on the data's clock like time in state), "acknowledged by …" and "snoozed
//   until HH:MM", and for a supervisor or admin an "Acknowledge" button on an
//   unacknowledged firing alert: POST /api/v1/alerts/{id}/acknowledge, disabled while
//   it runs; a failure is shown on the status line. A queue with a firing alert has
//   its tile marked (class alert-critical / alert-warning and a badge). Alerts that
//   start firing after the first snapshot are announced in a polite live region (not
//   the strip itself, whose durations tick every second). Alerts are not filtered.
// - Layout: filters (queue, channel, team), tile order (drag and drop, or the arrow
//   buttons, which work from the keyboard) and shown sections are saved in localStorage
//   `ccpulse.wallboard.layout`. Full screen (button) and `?mode=wall` hide the controls
//   and enlarge the text.
//
// Test hooks: tiles `[data-queue]` with `data-sl-status` (today's SL), values
// `[data-field]`; agent rows `[data-agent]`; body `data-connection`; the alert strip
// `#alerts` (`#alerts-count`, `#alerts-summary`, `#alert-list`, `#alerts-announcer`),
// its items `[data-alert]` with `data-state`, `data-severity`, `[data-field]` and
// `button[data-action="acknowledge"]`.

const TOKEN_KEY = 'ccpulse.token';
const LAYOUT_KEY = 'ccpulse.wallboard.layout';
const SUBSCRIPTION_ID = 'wall';

const AGENT_STATES = ['available', 'alerting', 'interacting', 'after_contact_work', 'away', 'offline'];
const STATE_LABELS = {
  available: 'Available',
  alerting: 'Alerting',
  interacting: 'Interacting',
  after_contact_work: 'After-contact work',
  away: 'Away',
  offline: 'Offline',
};
const SL_LABELS = { missed: 'missed', at_risk: 'at risk', met: 'met', no_data: 'no data' };
const SEVERITY_LABELS = { critical: 'Critical', warning: 'Warning' };
/** Strip order: firing before pending, critical before warning (unknown values last). */
const ALERT_STATE_RANK = { firing: 0, pending: 1 };
const SEVERITY_RANK = { critical: 0, warning: 1 };
/** The roles the API lets acknowledge an alert. */
const ACKNOWLEDGING_ROLES = new Set(['supervisor', 'admin']);
/** SL at or above its target by less than this many points is "at risk". */
const AT_RISK_POINTS = 5;

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;
/** The server sends a heartbeat every 15 s; we ping as often to show we are alive. */
const PING_EVERY_MS = 15000;
/** No message (not even a heartbeat) for this long: the connection is dead. */
const SILENCE_LIMIT_MS = 45000;
const TICK_MS = 1000;

// ---------------------------------------------------------------------------------
// Formatting (pure; exported for tests)

/** A fraction 0..1 as "87.5 %"; "—" for null. */
export function formatPercent(fraction) {
  return fraction == null ? '—' : `${(fraction * 100).toFixed(1)} %`;
}

/** A percentage (already 0..100) as "80.0 %". */
export function formatPercentPoints(points) {
  return points == null ? '—' : `${Number(points).toFixed(1)} %`;
}

/** Milliseconds as "mm:ss", "h:mm:ss" from an hour on; "—" for null. */
export function formatDuration(ms) {
  if (ms == null) return '—';
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return hours > 0 ? `${hours}:${pad(minutes)}:${pad(seconds)}` : `${pad(minutes)}:${pad(seconds)}`;
}

/** Milliseconds as whole seconds, "12 s"; "—" for null. */
export function formatSeconds(ms) {
  return ms == null ? '—' : `${Math.round(ms / 1000)} s`;
}

/**
 * The status of a service level against its target: "no_data" (null), "missed" (below
 * the target), "at_risk" (less than AT_RISK_POINTS above it) or "met". The level is
 * compared as shown (formatPercent's rounding), so the label agrees with the number.
 */
export function slStatus(fraction, targetPct) {
  if (fraction == null) return 'no_data';
  const shown = Number((fraction * 100).toFixed(1));
  if (shown < targetPct) return 'missed';
  if (shown < targetPct + AT_RISK_POINTS) return 'at_risk';
  return 'met';
}

/** An RFC 3339 time as local "HH:MM:SS"; "" for null. */
function formatClock(time) {
  if (!time) return '';
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleTimeString('en-GB', { hour12: false });
}

/** An RFC 3339 time as local "HH:MM"; "" for null. */
export function formatHourMinute(time) {
  if (!time) return '';
  const date = new Date(time);
  return Number.isNaN(date.getTime())
    ? ''
    : date.toLocaleTimeString('en-GB', { hour12: false, hour: '2-digit', minute: '2-digit' });
}

/** "1 alert", "3 alerts". */
export function countAlerts(count) {
  return `${count} alert${count === 1 ? '' : 's'}`;
}

/**
 * The alert strip's order: firing before pending, critical before warning, then the
 * longest-running first (fired_at, else since), then by id, so that an alert keeps its
 * place as the others tick.
 */
export function compareAlerts(a, b) {
  const rank = (ranks, value) => ranks[value] ?? Object.keys(ranks).length;
  const start = (alert) => {
    const time = Date.parse(alert.fired_at ?? alert.since);
    return Number.isNaN(time) ? Number.MAX_SAFE_INTEGER : time;
  };
  return rank(ALERT_STATE_RANK, a.state) - rank(ALERT_STATE_RANK, b.state)
    || rank(SEVERITY_RANK, a.severity) - rank(SEVERITY_RANK, b.severity)
    || start(a) - start(b)
    || compareIds(a.alert_id, b.alert_id);
}

// ---------------------------------------------------------------------------------
// State

const board = {
  token: null,
  me: null,
  /** queue_id → { view: QueueView, receivedAt: performance.now() at arrival } */
  queues: new Map(),
  /** agent_id → { view: AgentView, receivedAt } */
  agents: new Map(),
  /** alert_id → { view: AlertView, receivedAt } */
  alerts: new Map(),
  /** Whether a snapshot brought the alerts since signing in: until then none is new. */
  alertsSynced: false,
  /** The ids of the alerts known to be firing: the ones not to announce again. */
  firingSeen: new Set(),
  /** The ids of the alerts whose acknowledgement is in flight. */
  acknowledging: new Set(),
  asOf: null,
  /** performance.now() when asOf last changed. */
  asOfAt: null,
  /** The seq of the last snapshot or delta applied; null before the first snapshot. */
  seq: null,
  socket: null,
  reconnectAttempts: 0,
  reconnectTimer: null,
  keepaliveTimer: null,
  lastMessageAt: 0,
  layout: loadLayout(),
  /** Set when the page was opened with ?mode=wall. */
  wallMode: new URLSearchParams(location.search).get('mode') === 'wall',
};

/** queue_id, agent_id, alert_id → { root, fields }: the DOM, kept in place. */
const tiles = new Map();
const rows = new Map();
const alertItems = new Map();
let draggedQueueId = null;
/** Numbers the tiles' title ids (queue ids may hold any character). */
let tileCount = 0;
/** Numbers the alert items' message ids, for their buttons' aria-describedby. */
let alertItemCount = 0;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------
// Layout (localStorage)

function defaultLayout() {
  return {
    order: [],
    sections: { queues: true, agents: true },
    filters: { queue: '', channel: '', team: '' },
  };
}

function loadLayout() {
  const layout = defaultLayout();
  try {
    const saved = JSON.parse(localStorage.getItem(LAYOUT_KEY) ?? '{}');
    if (Array.isArray(saved.order)) layout.order = saved.order.filter((id) => typeof id === 'string');
    Object.assign(layout.sections, saved.sections);
    Object.assign(layout.filters, saved.filters);
  } catch {
    // A corrupt saved layout is replaced by the default.
  }
  return layout;
}

function saveLayout() {
  localStorage.setItem(LAYOUT_KEY, JSON.stringify(board.layout));
}

// ---------------------------------------------------------------------------------
// Connection status

/** Sets the connection state ("connecting", "live", "closed") and the status text. */
function setConnection(connection, text) {
  document.body.dataset.connection = connection;
  const status = $('status');
  if (status.textContent !== text) status.textContent = text;
}

function showAsOf() {
  const clock = formatClock(board.asOf);
  setText($('as-of'), clock ? `data as of ${clock}` : 'no data yet');
}

// ---------------------------------------------------------------------------------
// REST

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A call to the API with the token; `body`, when given, is sent as JSON. */
async function api(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${board.token}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const error = answer?.error ?? {};
    throw new ApiError(response.status, error.code ?? 'http', error.message ?? `HTTP ${response.status}`);
  }
  return answer;
}

// ---------------------------------------------------------------------------------
// Sign-in

/** The token from `#token=…`, stored and removed from the URL; else null. */
function takeTokenFromFragment() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (!token) return null;
  localStorage.setItem(TOKEN_KEY, token);
  history.replaceState(null, '', location.pathname + location.search);
  return token;
}

function showSignIn(message) {
  stopLive();
  resetBoard();
  board.reconnectAttempts = 0;
  board.token = null;
  board.me = null;
  $('identity').hidden = true;
  $('sign-out-button').hidden = true;
  $('board').hidden = true;
  $('sign-in').hidden = false;
  setText($('sign-in-message'), message);
  setConnection('closed', 'signed out');
  setText($('as-of'), '');
  $('token-input').focus();
}

function forgetToken() {
  localStorage.removeItem(TOKEN_KEY);
}

async function signIn(token) {
  stopLive();
  resetBoard();
  board.token = token;
  $('sign-in').hidden = true;
  setConnection('connecting', 'checking the token…');
  let me;
  try {
    me = await api('/api/v1/me');
  } catch (error) {
    if (board.token !== token) return;
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      // Not a valid token (401), or one not allowed to read itself (403): only a
      // person can fix that.
      forgetToken();
      showSignIn(error.message);
    } else {
      // The server is down or restarting: a wall screen keeps trying by itself.
      scheduleReconnect(() => signIn(token), `cannot reach the server (${error.message})`);
    }
    return;
  }
  if (board.token !== token) return;
  localStorage.setItem(TOKEN_KEY, token);
  board.me = me;
  showIdentity(me);
  $('board').hidden = false;
  $('sign-out-button').hidden = false;

  try {
    const [queues, agents] = await Promise.all([api('/api/v1/queues'), api('/api/v1/agents')]);
    if (board.token !== token) return;
    replaceAll(queues.queues ?? [], agents.agents ?? [], queues.as_of ?? agents.as_of ?? null);
  } catch (error) {
    if (board.token !== token) return;
    if (error instanceof ApiError && error.status === 401) {
      forgetToken();
      showSignIn(error.message);
      return;
    }
    // The snapshot on the stream brings the same data.
    console.warn('initial load failed:', error.message);
  }
  connect();
}

function signOut() {
  forgetToken();
  showSignIn('Signed out.');
}

function showIdentity(me) {
  setText($('identity-tenant'), me.tenant_id ?? '');
  setText($('identity-role'), me.role ?? '');
  setText($('identity-scope'), Array.isArray(me.queues) ? `queues: ${me.queues.join(', ')}` : '');
  $('identity').hidden = false;
}

// ---------------------------------------------------------------------------------
// WebSocket

function streamUrl(token) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/api/v1/stream?access_token=${encodeURIComponent(token)}`;
}

function subscribeMessage() {
  const message = { type: 'subscribe', id: SUBSCRIPTION_ID, topic: 'tenant' };
  // A token limited to some queues may only subscribe to those.
  if (Array.isArray(board.me?.queues)) message.queues = board.me.queues;
  return message;
}

function connect() {
  clearTimeout(board.reconnectTimer);
  setConnection('connecting', board.reconnectAttempts > 0 ? 'reconnecting…' : 'connecting…');
  const socket = new WebSocket(streamUrl(board.token));
  board.socket = socket;
  board.seq = null;
  socket.addEventListener('open', () => {
    board.lastMessageAt = Date.now();
    socket.send(JSON.stringify(subscribeMessage()));
    board.keepaliveTimer = setInterval(() => keepAlive(socket), PING_EVERY_MS);
  });
  socket.addEventListener('message', (event) => {
    if (socket !== board.socket) return;
    board.lastMessageAt = Date.now();
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      console.warn('ignored a message that is not JSON');
      return;
    }
    handleMessage(message);
  });
  socket.addEventListener('close', (event) => {
    if (socket !== board.socket) return;
    board.socket = null;
    clearInterval(board.keepaliveTimer);
    if (event.code === 4401) {
      forgetToken();
      showSignIn(`The server closed the live connection: ${event.reason || 'the token is missing or invalid'}.`);
    } else {
      const why = event.reason ? `connection closed (${event.reason})` : 'connection lost';
      scheduleReconnect(connect, why);
    }
  });
}

function keepAlive(socket) {
  if (socket !== board.socket) return;
  if (Date.now() - board.lastMessageAt > SILENCE_LIMIT_MS) {
    // Dead without a close: stop listening to it and start over.
    board.socket = null;
    clearInterval(board.keepaliveTimer);
    socket.close();
    scheduleReconnect(connect, 'no data from the server');
    return;
  }
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'ping' }));
}

/** Runs `retry` after the next backoff delay, saying why on the status line. */
function scheduleReconnect(retry, why) {
  clearTimeout(board.reconnectTimer);
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** board.reconnectAttempts);
  const delay = Math.round(base * (0.75 + Math.random() * 0.5));
  board.reconnectAttempts += 1;
  setConnection('closed', `reconnecting… (${why})`);
  board.reconnectTimer = setTimeout(retry, delay);
}

/** Closes the stream (without reconnecting) and cancels pending retries. */
function stopLive() {
  clearTimeout(board.reconnectTimer);
  clearInterval(board.keepaliveTimer);
  const socket = board.socket;
  board.socket = null;
  if (socket) socket.close(1000, 'signed out');
}

function handleMessage(message) {
  switch (message.type) {
    case 'snapshot':
      if (message.id !== SUBSCRIPTION_ID) return;
      board.seq = message.seq ?? 0;
      board.reconnectAttempts = 0;
      replaceAll(message.queues ?? [], message.agents ?? [], message.as_of ?? null, message.alerts ?? []);
      setConnection('live', 'live');
      break;
    case 'delta':
      // Before the snapshot there is nothing to apply a delta to; an old seq is stale.
      if (message.id !== SUBSCRIPTION_ID || board.seq == null) return;
      if (message.seq != null && message.seq <= board.seq) return;
      board.seq = message.seq ?? board.seq;
      applyDelta(message);
      break;
    case 'error':
      setConnection(document.body.dataset.connection, `server error: ${message.message ?? message.code}`);
      break;
    default:
      // heartbeat, pong: lastMessageAt is all they are for.
      break;
  }
}

// ---------------------------------------------------------------------------------
// Data → DOM

/** Replaces the board; `alerts` undefined (the REST load has none) keeps the alerts. */
function replaceAll(queues, agents, asOf, alerts) {
  const now = performance.now();
  const queueIds = new Set(queues.map((queue) => queue.queue_id));
  const agentIds = new Set(agents.map((agent) => agent.agent_id));
  for (const id of [...board.queues.keys()]) if (!queueIds.has(id)) removeQueue(id);
  for (const id of [...board.agents.keys()]) if (!agentIds.has(id)) removeAgent(id);
  for (const queue of queues) upsertQueue(queue, now);
  for (const agent of agents) upsertAgent(agent, now);
  if (alerts !== undefined) {
    const alertIds = new Set(alerts.map((alert) => alert.alert_id));
    for (const id of [...board.alerts.keys()]) if (!alertIds.has(id)) removeAlert(id);
    for (const alert of alerts) upsertAlert(alert, now);
    noteFiringAlerts(board.alertsSynced);
    board.alertsSynced = true;
  }
  board.asOf = asOf;
  board.asOfAt = now;
  afterChange();
}

function applyDelta(delta) {
  const now = performance.now();
  for (const id of delta.queues?.remove ?? []) removeQueue(id);
  for (const id of delta.agents?.remove ?? []) removeAgent(id);
  for (const queue of delta.queues?.upsert ?? []) upsertQueue(queue, now);
  for (const agent of delta.agents?.upsert ?? []) upsertAgent(agent, now);
  if (delta.alerts) {
    for (const id of delta.alerts.remove ?? []) removeAlert(id);
    for (const alert of delta.alerts.upsert ?? []) upsertAlert(alert, now);
    noteFiringAlerts(true);
  }
  if (delta.as_of !== undefined && delta.as_of !== null && delta.as_of !== board.asOf) {
    board.asOf = delta.as_of;
    board.asOfAt = now;
  }
  afterChange();
}

/** What every change ends with: order, alerts, filter options and visibility, as-of time. */
function afterChange() {
  arrangeTiles();
  renderAlertStrip();
  refreshFilterOptions();
  applyFilters();
  showAsOf();
}

function resetBoard() {
  for (const id of [...board.queues.keys()]) removeQueue(id);
  for (const id of [...board.agents.keys()]) removeAgent(id);
  for (const id of [...board.alerts.keys()]) removeAlert(id);
  board.alertsSynced = false;
  board.firingSeen.clear();
  board.acknowledging.clear();
  setText($('alerts-announcer'), '');
  renderAlertStrip();
  board.asOf = null;
  board.seq = null;
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function setData(element, key, value) {
  if (element.dataset[key] !== value) element.dataset[key] = value;
}

/** The template's clone, with its `[data-field]` elements by field name. */
function instantiate(templateId) {
  const root = $(templateId).content.firstElementChild.cloneNode(true);
  const fields = {};
  for (const element of root.querySelectorAll('[data-field]')) fields[element.dataset.field] = element;
  return { root, fields };
}

// Queues ---------------------------------------------------------------------------

function upsertQueue(view, receivedAt) {
  const id = view.queue_id;
  board.queues.set(id, { view, receivedAt });
  let tile = tiles.get(id);
  if (!tile) {
    tile = createTile(id);
    tiles.set(id, tile);
  }
  renderTile(tile, view);
  renderOldestWait(tile, board.queues.get(id), receivedAt);
}

function removeQueue(id) {
  board.queues.delete(id);
  tiles.get(id)?.root.remove();
  tiles.delete(id);
}

function createTile(id) {
  const tile = instantiate('queue-tile-template');
  const { root, fields } = tile;
  root.dataset.queue = id;
  tileCount += 1;
  const titleId = `queue-title-${tileCount}`;
  root.draggable = !document.documentElement.classList.contains('wall');
  fields.queue_name.id = titleId;
  fields.queue_name.textContent = id;
  root.setAttribute('aria-labelledby', titleId);
  for (const button of root.querySelectorAll('button[data-move]')) {
    const direction = button.dataset.move;
    button.setAttribute('aria-label', `Move ${id} ${direction}`);
    button.title = `Move ${direction}`;
    button.addEventListener('click', () => {
      moveQueue(id, direction === 'earlier' ? -1 : 1);
      button.focus();
    });
  }
  root.addEventListener('dragstart', (event) => {
    draggedQueueId = id;
    event.dataTransfer.effectAllowed = 'move';
    event.dataTransfer.setData('text/plain', id);
    root.classList.add('dragging');
  });
  root.addEventListener('dragend', () => {
    draggedQueueId = null;
    root.classList.remove('dragging');
  });
  root.addEventListener('dragover', (event) => {
    if (draggedQueueId == null || draggedQueueId === id) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'move';
  });
  root.addEventListener('drop', (event) => {
    event.preventDefault();
    const dragged = draggedQueueId ?? event.dataTransfer.getData('text/plain');
    if (dragged && dragged !== id) dropQueueOnto(dragged, id);
  });
  return tile;
}

function renderTile(tile, view) {
  const { root, fields } = tile;
  const settings = view.settings ?? {};
  const target = settings.sl_target_pct;
  setText(fields.channels, (view.channels ?? []).join(', '));
  setText(fields.waiting_now, String(view.waiting_now ?? '—'));

  const slNow = view.current_interval?.service_level ?? null;
  const slToday = view.today?.service_level ?? null;
  const nowStatus = slStatus(slNow, target);
  const todayStatus = slStatus(slToday, target);
  setText(fields.sl_now, formatPercent(slNow));
  setText(fields.sl_now_status, SL_LABELS[nowStatus]);
  setData(fields.sl_now_status, 'status', nowStatus);
  setText(fields.sl_today, formatPercent(slToday));
  setText(fields.sl_today_status, SL_LABELS[todayStatus]);
  setData(fields.sl_today_status, 'status', todayStatus);
  setText(fields.sl_target, formatPercentPoints(target));
  setData(root, 'slStatus', todayStatus);
  setData(root, 'slNowStatus', nowStatus);

  setText(fields.asa, formatSeconds(view.today?.asa_ms ?? null));
  setText(fields.abandon_rate, formatPercent(view.today?.abandon_rate ?? null));
  for (const state of AGENT_STATES) {
    setText(fields[`agents_${state}`], String(view.agents?.[state] ?? 0));
  }
}

/**
 * How far the clock has moved since a row's figures: a delta resends a row only when
 * more than the time changed in it (see the stream's docs), so a row's
 * `time_in_state_ms` and `oldest_wait_ms` are as of its own `as_of`. Add the event
 * time from there to the board's latest `as_of`, then the wall time since that arrived.
 */
function elapsedSince(entry, now) {
  return elapsedFrom(entry.view.as_of, entry.receivedAt, now);
}

/**
 * The data's time from `time` (RFC 3339) to now: the event time from there to the
 * board's latest `as_of`, then the wall time since that arrived; without both, the
 * wall time since `receivedAt`.
 */
function elapsedFrom(time, receivedAt, now) {
  const from = Date.parse(time);
  const boardAsOf = Date.parse(board.asOf);
  if (Number.isNaN(from) || Number.isNaN(boardAsOf) || board.asOfAt == null) {
    return Math.max(0, now - receivedAt);
  }
  return Math.max(0, boardAsOf - from) + Math.max(0, now - board.asOfAt);
}

/** The oldest wait, ticked on (see elapsedSince), flagged past the queue's SL threshold. */
function renderOldestWait(tile, entry, now) {
  const { view } = entry;
  const base = view.oldest_wait_ms;
  const wait = base == null ? null : base + elapsedSince(entry, now);
  const thresholdS = view.settings?.sl_threshold_s;
  const over = wait != null && thresholdS != null && wait > thresholdS * 1000;
  setText(tile.fields.oldest_wait, formatDuration(wait));
  setText(tile.fields.oldest_wait_status, over ? `over ${thresholdS} s` : '');
  setData(tile.root, 'oldestOver', String(over));
}

/** Queue ids in display order: the saved order, then new queues by id. */
function orderedQueueIds() {
  const known = new Set(board.queues.keys());
  const ordered = board.layout.order.filter((id) => known.has(id));
  const placed = new Set(ordered);
  const rest = [...known].filter((id) => !placed.has(id)).sort(compareIds);
  return [...ordered, ...rest];
}

function compareIds(a, b) {
  return a.localeCompare(b, undefined, { numeric: true });
}

/** Puts the tiles in display order, moving only the ones out of place. */
function arrangeTiles() {
  const container = $('queue-tiles');
  let cursor = container.firstElementChild;
  for (const id of orderedQueueIds()) {
    const root = tiles.get(id).root;
    if (root === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      container.insertBefore(root, cursor);
    }
  }
}

/** Moves a tile one place among the visible tiles (-1 earlier, +1 later). */
function moveQueue(id, step) {
  const order = orderedQueueIds();
  const visible = order.filter((queueId) => !tiles.get(queueId).root.hidden);
  const neighbour = visible[visible.indexOf(id) + step];
  if (neighbour === undefined) return;
  const without = order.filter((queueId) => queueId !== id);
  const at = without.indexOf(neighbour) + (step > 0 ? 1 : 0);
  without.splice(at, 0, id);
  setOrder(without);
}

/** Drag and drop: the dragged tile takes the place of the one it is dropped on. */
function dropQueueOnto(draggedId, targetId) {
  const order = orderedQueueIds();
  const movingLater = order.indexOf(draggedId) < order.indexOf(targetId);
  const without = order.filter((queueId) => queueId !== draggedId);
  without.splice(without.indexOf(targetId) + (movingLater ? 1 : 0), 0, draggedId);
  setOrder(without);
}

function setOrder(order) {
  board.layout.order = order;
  saveLayout();
  arrangeTiles();
}

// Agents ---------------------------------------------------------------------------

function upsertAgent(view, receivedAt) {
  const id = view.agent_id;
  board.agents.set(id, { view, receivedAt });
  let row = rows.get(id);
  if (!row) {
    row = instantiate('agent-row-template');
    row.root.dataset.agent = id;
    row.fields.agent.textContent = id;
    rows.set(id, row);
    insertRowInOrder(row.root, id);
  }
  renderRow(row, view);
  renderTimeInState(row, board.agents.get(id), receivedAt);
}

function removeAgent(id) {
  board.agents.delete(id);
  rows.get(id)?.root.remove();
  rows.delete(id);
}

/** Rows stay sorted by agent id. */
function insertRowInOrder(root, id) {
  const body = $('agent-rows');
  const next = [...body.children].find((row) => compareIds(row.dataset.agent, id) > 0) ?? null;
  body.insertBefore(root, next);
}

function renderRow(row, view) {
  const label = STATE_LABELS[view.state] ?? view.state;
  setText(row.fields.state, view.reason ? `${label} (${view.reason})` : label);
  setData(row.root, 'state', view.state);
  setData(row.fields.state, 'state', view.state);
  setText(row.fields.queues, (view.queues ?? []).join(', '));
  setText(row.fields.team, view.team_id ?? '—');
  setText(row.fields.channels, (view.channels ?? []).join(', '));
}

function renderTimeInState(row, entry, now) {
  const { view } = entry;
  const ms = view.time_in_state_ms == null ? null : view.time_in_state_ms + elapsedSince(entry, now);
  setText(row.fields.time_in_state, formatDuration(ms));
}

/** Every second: time in state, oldest wait and alert durations move on (visible ones only). */
function tick() {
  const now = performance.now();
  for (const [id, item] of alertItems) renderAlertElapsed(item, board.alerts.get(id), now);
  for (const [id, row] of rows) {
    if (!row.root.hidden) renderTimeInState(row, board.agents.get(id), now);
  }
  for (const [id, tile] of tiles) {
    if (!tile.root.hidden) renderOldestWait(tile, board.queues.get(id), now);
  }
}

// Alerts ---------------------------------------------------------------------------

function upsertAlert(view, receivedAt) {
  const id = view.alert_id;
  board.alerts.set(id, { view, receivedAt });
  let item = alertItems.get(id);
  if (!item) {
    item = createAlertItem(id);
    alertItems.set(id, item);
  }
  renderAlert(item, view);
  renderAlertElapsed(item, board.alerts.get(id), receivedAt);
}

function removeAlert(id) {
  board.alerts.delete(id);
  alertItems.get(id)?.root.remove();
  alertItems.delete(id);
}

function createAlertItem(id) {
  const item = instantiate('alert-item-template');
  const { root, fields } = item;
  root.dataset.alert = id;
  alertItemCount += 1;
  fields.message.id = `alert-message-${alertItemCount}`;
  item.button = root.querySelector('button[data-action="acknowledge"]');
  item.button.setAttribute('aria-describedby', fields.message.id);
  item.button.addEventListener('click', () => acknowledge(id));
  return item;
}

/** A supervisor or admin may acknowledge a firing alert nobody acknowledged yet. */
function canAcknowledge(view) {
  return ACKNOWLEDGING_ROLES.has(board.me?.role)
    && view.state === 'firing'
    && view.acknowledged_by == null
    && view.acknowledged_at == null;
}

function renderAlert(item, view) {
  const { root, fields, button } = item;
  setData(root, 'state', view.state ?? '');
  setData(root, 'severity', view.severity ?? '');
  const acknowledged = view.acknowledged_by != null || view.acknowledged_at != null;
  setData(root, 'acknowledged', String(acknowledged));
  setText(fields.severity, SEVERITY_LABELS[view.severity] ?? view.severity ?? '');
  setText(fields.message, view.message ?? view.rule_name ?? view.rule_id ?? '');
  const at = formatHourMinute(view.acknowledged_at);
  setText(
    fields.acknowledged,
    acknowledged ? `acknowledged by ${view.acknowledged_by ?? 'someone'}${at ? ` at ${at}` : ''}` : '',
  );
  const until = formatHourMinute(view.snoozed_until);
  setText(fields.snoozed, until ? `snoozed until ${until}` : '');
  const busy = board.acknowledging.has(view.alert_id);
  const show = canAcknowledge(view);
  if (button.hidden === show) button.hidden = !show;
  if (button.disabled !== busy) button.disabled = busy;
  setText(button, busy ? 'Acknowledging…' : 'Acknowledge');
}

/** "firing for mm:ss" from fired_at, "pending for mm:ss" from since, on the data's clock. */
function renderAlertElapsed(item, entry, now) {
  const { view } = entry;
  const firing = view.state === 'firing';
  const start = firing ? (view.fired_at ?? view.since) : view.since;
  const label = firing ? 'firing' : (view.state ?? 'pending');
  const known = start != null && !Number.isNaN(Date.parse(start));
  const text = known ? `${label} for ${formatDuration(elapsedFrom(start, entry.receivedAt, now))}` : label;
  setText(item.fields.elapsed, text);
}

/**
 * Remembers which alerts are firing and, when `announce`, says the ones that were not
 * in the live region: on the first snapshot every alert is already on screen, and a
 * reconnect's snapshot announces only what started firing in between.
 */
function noteFiringAlerts(announce) {
  const firing = [];
  for (const { view } of board.alerts.values()) if (view.state === 'firing') firing.push(view);
  const fresh = firing.filter((view) => !board.firingSeen.has(view.alert_id)).sort(compareAlerts);
  board.firingSeen = new Set(firing.map((view) => view.alert_id));
  if (!announce || fresh.length === 0) return;
  const lines = fresh.map((view) => {
    const severity = (SEVERITY_LABELS[view.severity] ?? view.severity ?? '').toLowerCase();
    return `New ${severity} alert: ${view.message ?? view.rule_name ?? view.alert_id}.`;
  });
  setText($('alerts-announcer'), lines.join(' '));
}

/** The strip (order, count, shown only with alerts) and the queue tiles' markers. */
function renderAlertStrip() {
  const ordered = [...board.alerts.values()].map((entry) => entry.view).sort(compareAlerts);
  const list = $('alert-list');
  let cursor = list.firstElementChild;
  for (const view of ordered) {
    const root = alertItems.get(view.alert_id).root;
    if (root === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      list.insertBefore(root, cursor);
    }
  }
  const firing = ordered.filter((view) => view.state === 'firing').length;
  const pending = ordered.length - firing;
  setText($('alerts-count'), countAlerts(ordered.length));
  setText($('alerts-summary'), [firing ? `${firing} firing` : '', pending ? `${pending} pending` : '']
    .filter(Boolean).join(' · '));
  const strip = $('alerts');
  if (strip.hidden !== (ordered.length === 0)) strip.hidden = ordered.length === 0;
  markTiles();
}

/** The tile of a queue with a firing alert: class alert-critical or alert-warning, and a badge. */
function markTiles() {
  const firingByQueue = new Map();
  for (const { view } of board.alerts.values()) {
    if (view.state !== 'firing' || view.queue_id == null) continue;
    if (!firingByQueue.has(view.queue_id)) firingByQueue.set(view.queue_id, []);
    firingByQueue.get(view.queue_id).push(view);
  }
  for (const [id, tile] of tiles) {
    const firing = firingByQueue.get(id) ?? [];
    let worst = null;
    if (firing.length > 0) worst = firing.some((view) => view.severity === 'critical') ? 'critical' : 'warning';
    const { root, fields } = tile;
    if (root.classList.contains('alert-critical') !== (worst === 'critical')) root.classList.toggle('alert-critical');
    if (root.classList.contains('alert-warning') !== (worst === 'warning')) root.classList.toggle('alert-warning');
    const badge = fields.alert_badge;
    let text = '';
    if (firing.length === 1) text = `${worst} alert`;
    if (firing.length > 1) text = countAlerts(firing.length);
    setText(badge, text);
    if (badge.hidden !== (worst == null)) badge.hidden = worst == null;
    const names = firing.sort(compareAlerts).map((view) => view.rule_name ?? view.rule_id).join(', ');
    if (badge.title !== names) badge.title = names;
  }
}

/**
 * POST /api/v1/alerts/{id}/acknowledge. The button is disabled while it runs; the
 * answer (the acknowledged alert) is shown at once, unless the stream already brought
 * a newer one. A 401 shows the token form (as everywhere); another failure is said on
 * the status line, the page's one place for errors, and the button comes back.
 */
async function acknowledge(id) {
  const entry = board.alerts.get(id);
  if (!entry || board.acknowledging.has(id)) return;
  const token = board.token;
  const name = entry.view.rule_name ?? entry.view.rule_id ?? id;
  const item = alertItems.get(id);
  const hadFocus = item?.button === document.activeElement;
  board.acknowledging.add(id);
  renderAlert(item, entry.view);
  try {
    const view = await api(`/api/v1/alerts/${encodeURIComponent(id)}/acknowledge`, { method: 'POST', body: {} });
    if (board.token !== token) return;
    const current = board.alerts.get(id);
    if (view?.alert_id === id && current && current.view.acknowledged_by == null && current.view.acknowledged_at == null) {
      upsertAlert(view, performance.now());
      noteFiringAlerts(true);
      afterChange();
    }
  } catch (error) {
    if (board.token !== token) return;
    if (error instanceof ApiError && error.status === 401) {
      forgetToken();
      showSignIn(error.message);
      return;
    }
    setText($('status'), `could not acknowledge "${name}": ${error.message}`);
  } finally {
    if (board.token === token) {
      board.acknowledging.delete(id);
      const current = alertItems.get(id);
      if (current) {
        renderAlert(current, board.alerts.get(id).view);
        // The button goes once the alert is acknowledged: keep the focus on its item.
        if (hadFocus && current.button.hidden) current.root.focus();
      }
    }
  }
}

// ---------------------------------------------------------------------------------
// Filters and sections

/** The options of the filter selects: what the data has, plus the selected value. */
function refreshFilterOptions() {
  const channels = new Set();
  const teams = new Set();
  for (const { view } of board.queues.values()) for (const channel of view.channels ?? []) channels.add(channel);
  for (const { view } of board.agents.values()) {
    for (const channel of view.channels ?? []) channels.add(channel);
    if (view.team_id) teams.add(view.team_id);
  }
  const filters = board.layout.filters;
  setOptions($('filter-queue'), [...board.queues.keys()], filters.queue);
  setOptions($('filter-channel'), [...channels], filters.channel);
  setOptions($('filter-team'), [...teams], filters.team);
}

/** Rebuilds a select's options only when the set of values changed. */
function setOptions(select, values, selected) {
  const all = new Set(values);
  if (selected) all.add(selected);
  const sorted = [...all].sort(compareIds);
  const key = sorted.join('\u0000');
  if (select.dataset.options !== key) {
    select.dataset.options = key;
    const first = select.options[0];
    select.replaceChildren(first, ...sorted.map((value) => new Option(value, value)));
  }
  if (select.value !== selected) select.value = selected;
}

function queueMatches(view, filters) {
  return (!filters.queue || view.queue_id === filters.queue)
    && (!filters.channel || (view.channels ?? []).includes(filters.channel));
}

function agentMatches(view, filters) {
  return (!filters.queue || (view.queues ?? []).includes(filters.queue))
    && (!filters.team || view.team_id === filters.team)
    && (!filters.channel || (view.channels ?? []).includes(filters.channel));
}

function applyFilters() {
  const filters = board.layout.filters;
  let queuesShown = 0;
  for (const [id, tile] of tiles) {
    const show = queueMatches(board.queues.get(id).view, filters);
    if (tile.root.hidden === show) tile.root.hidden = !show;
    if (show) queuesShown += 1;
  }
  let agentsShown = 0;
  for (const [id, row] of rows) {
    const show = agentMatches(board.agents.get(id).view, filters);
    if (row.root.hidden === show) row.root.hidden = !show;
    if (show) agentsShown += 1;
  }
  $('queues-empty').hidden = queuesShown > 0 || board.queues.size === 0;
  $('agents-empty').hidden = agentsShown > 0 || board.agents.size === 0;
  $('queues-section').hidden = !board.layout.sections.queues;
  $('agents-section').hidden = !board.layout.sections.agents;
  tick();
}

function bindControls() {
  for (const [name, select] of [['queue', $('filter-queue')], ['channel', $('filter-channel')], ['team', $('filter-team')]]) {
    select.addEventListener('change', () => {
      board.layout.filters[name] = select.value;
      saveLayout();
      applyFilters();
    });
  }
  for (const [name, checkbox] of [['queues', $('show-queues')], ['agents', $('show-agents')]]) {
    checkbox.checked = board.layout.sections[name] !== false;
    checkbox.addEventListener('change', () => {
      board.layout.sections[name] = checkbox.checked;
      saveLayout();
      applyFilters();
    });
  }
  $('controls').addEventListener('submit', (event) => event.preventDefault());
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('token-input');
    const token = input.value.trim();
    input.value = '';
    if (token) signIn(token);
  });
  $('sign-out-button').addEventListener('click', signOut);
  $('fullscreen-button').addEventListener('click', toggleFullscreen);
  document.addEventListener('fullscreenchange', showWallMode);
}

// ---------------------------------------------------------------------------------
// Full screen and wall mode

function toggleFullscreen() {
  if (document.fullscreenElement) {
    document.exitFullscreen();
  } else {
    document.documentElement.requestFullscreen().catch((error) => {
      setText($('status'), `full screen refused: ${error.message}`);
    });
  }
}

/** Wall mode (?mode=wall or full screen): no controls, larger text. */
function showWallMode() {
  const fullscreen = Boolean(document.fullscreenElement);
  document.documentElement.classList.toggle('wall', board.wallMode || fullscreen);
  setText($('fullscreen-button'), fullscreen ? 'Exit full screen' : 'Full screen');
  for (const tile of tiles.values()) tile.root.draggable = !board.wallMode && !fullscreen;
}

// ---------------------------------------------------------------------------------
// Start

function start() {
  bindControls();
  showWallMode();
  setInterval(tick, TICK_MS);
  const token = takeTokenFromFragment() ?? localStorage.getItem(TOKEN_KEY);
  if (token) {
    signIn(token);
  } else {
    showSignIn('');
  }
}

start();
