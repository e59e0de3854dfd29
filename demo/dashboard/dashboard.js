// The live dashboard: polls /health, keeps the last minute, draws four line charts on canvases,
// and fires bursts through POST /burst. Plain browser JavaScript, served as is.

const WINDOW_MS = 60_000;
const POLL_MS = 250;
// Polls past this many in flight are skipped: a stalled server must not also starve the
// browser's six connections that the page and the burst button need.
const MAX_POLLS_IN_FLIGHT = 4;

const series = {
  latency: { points: [], unit: 'ms', digits: 1 },
  delay: { points: [], unit: 'ms', digits: 1 },
  queued: { points: [], unit: '', digits: 0 },
  busy: { points: [], unit: '', digits: 0 },
};
/** Bursts as time bands: { start, end, mode }; end is undefined while running. */
const bursts = [];
let pollsInFlight = 0;

function push(name, t, value) {
  const { points } = series[name];
  points.push({ t, value });
  // Points arrive nearly in time order; a late latency point is placed where it belongs.
  for (let i = points.length - 1; i > 0 && points[i - 1].t > points[i].t; i--) {
    [points[i - 1], points[i]] = [points[i], points[i - 1]];
  }
}

async function poll() {
  if (pollsInFlight >= MAX_POLLS_IN_FLIGHT) return;
  pollsInFlight++;
  const sent = performance.now();
  try {
    const response = await fetch('/health', { cache: 'no-store' });
    const health = await response.json();
    const received = performance.now();
    // Latency belongs to when the probe was sent: a stall shows as the ramp of probes it held.
    push('latency', sent, received - sent);
    push('delay', received, health.eventLoopDelay.max);
    push('queued', received, health.pool.queued);
    push('busy', received, health.pool.busy);
  } catch {
    // The server is gone or restarting: the gap in the charts says so.
  } finally {
    pollsInFlight--;
  }
}

function draw(name) {
  const canvas = document.getElementById(name);
  const { points, unit, digits } = series[name];
  const now = performance.now();
  while (points.length > 0 && points[0].t < now - WINDOW_MS) points.shift();
  canvas.dataset.points = String(points.length);

  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const context = canvas.getContext('2d');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);

  const left = 44;
  const bottom = height - 18;
  const plotWidth = width - left - 8;
  const max = Math.max(niceMax(points), 1);
  const x = (t) => left + ((t - (now - WINDOW_MS)) / WINDOW_MS) * plotWidth;
  const y = (value) => bottom - (value / max) * (bottom - 8);

  const styles = getComputedStyle(document.documentElement);
  for (const burst of bursts) {
    const start = Math.max(x(burst.start), left);
    const end = x(burst.end ?? now);
    if (end < left) continue;
    context.fillStyle = styles.getPropertyValue(burst.mode === 'inline' ? '--inline' : '--offloaded');
    context.globalAlpha = 0.25;
    context.fillRect(start, 8, Math.max(end - start, 2), bottom - 8);
    context.globalAlpha = 1;
  }

  context.strokeStyle = '#2c3845';
  context.fillStyle = styles.getPropertyValue('--muted');
  context.font = '11px system-ui, sans-serif';
  context.lineWidth = 1;
  for (const fraction of [0, 0.5, 1]) {
    const value = max * fraction;
    context.beginPath();
    context.moveTo(left, y(value) + 0.5);
    context.lineTo(left + plotWidth, y(value) + 0.5);
    context.stroke();
    context.fillText(format(value, digits), 4, y(value) + 4);
  }
  for (const seconds of [60, 45, 30, 15, 0]) {
    context.fillText(seconds === 0 ? 'now' : `-${seconds}s`, x(now - seconds * 1000) - (seconds === 0 ? 20 : 10), height - 4);
  }

  context.strokeStyle = styles.getPropertyValue('--line');
  context.lineWidth = 1.6;
  context.beginPath();
  points.forEach((point, index) => {
    if (index === 0) context.moveTo(x(point.t), y(point.value));
    else context.lineTo(x(point.t), y(point.value));
  });
  context.stroke();

  const label = document.getElementById(`${name}-value`);
  if (points.length > 0) {
    const latest = points[points.length - 1].value;
    const peak = Math.max(...points.map((point) => point.value));
    label.textContent = `now ${format(latest, digits)}${unit} · max ${format(peak, digits)}${unit}`;
  }
}

/** A y-axis top that is a round number above the highest point. */
function niceMax(points) {
  const highest = points.reduce((top, point) => Math.max(top, point.value), 0);
  if (highest <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(highest));
  for (const step of [1, 2, 5, 10]) if (highest <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

function format(value, digits) {
  return value >= 100 ? Math.round(value).toString() : value.toFixed(digits);
}

async function fireBurst(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = document.getElementById('burst');
  const status = document.getElementById('burst-status');
  const job = form.elements.job.value;
  const mode = form.elements.mode.value;
  const count = Number(form.elements.count.value);
  const burst = { start: performance.now(), end: undefined, mode };
  bursts.push(burst);
  button.disabled = true;
  status.dataset.state = 'running';
  status.textContent = `Burst of ${count} ${job} requests, ${mode}: running…`;
  try {
    const response = await fetch('/burst', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ job, mode, count }),
    });
    const result = await response.json();
    if (!response.ok) throw new Error(result.message ?? `HTTP ${response.status}`);
    status.textContent = `Burst of ${result.count} ${result.job} requests, ${result.mode}: ` +
      `${result.succeeded} done, ${result.failed} failed, in ${(result.elapsed / 1000).toFixed(2)} s.`;
    status.dataset.state = 'done';
  } catch (error) {
    status.textContent = `Burst failed: ${error.message}`;
    status.dataset.state = 'failed';
  } finally {
    burst.end = performance.now();
    button.disabled = false;
  }
}

document.getElementById('burst-form').addEventListener('submit', fireBurst);
setInterval(poll, POLL_MS);
setInterval(() => {
  for (const name of Object.keys(series)) draw(name);
}, POLL_MS);
poll();

// A long task's progress bar, fed by the task's progress() calls through server-sent events.
document.getElementById('render-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const button = document.getElementById('render');
  const bar = document.getElementById('render-progress');
  const status = document.getElementById('render-status');
  button.disabled = true;
  bar.value = 0;
  bar.dataset.updates = '0';
  status.dataset.state = 'running';
  status.textContent = 'Rendering...';
  const source = new EventSource('/render-progress?width=1400&height=1000');
  const finish = (state, text) => {
    source.close();
    button.disabled = false;
    status.dataset.state = state;
    status.textContent = text;
  };
  source.addEventListener('progress', (message) => {
    const { rows, of } = JSON.parse(message.data);
    bar.value = rows / of;
    bar.dataset.updates = String(Number(bar.dataset.updates) + 1);
    status.textContent = `Rendering: row ${rows} of ${of}`;
  });
  source.addEventListener('done', (message) => {
    bar.value = 1;
    finish('done', `Done: ${JSON.parse(message.data).bytes.toLocaleString()} bytes of PNG.`);
  });
  source.addEventListener('failed', (message) => finish('failed', `Failed: ${JSON.parse(message.data).code}`));
  source.onerror = () => finish('failed', 'The connection failed.');
});
