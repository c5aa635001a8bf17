/**
 * The page's stylesheet and its one script, inline so the collector serves a single response with no
 * external assets. Both run under a nonce (see `PAGE_CSP` in page.ts); neither embeds any data.
 */

export const PAGE_STYLE = `
:root { color-scheme: light; --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f6f7f9; --accent: #6941c6;
  --accent-bg: #f4f3ff; --retro: #93370d; --retro-bg: #fffaeb; --retro-chip: #fedf89; --ok: #05603a; --ok-chip: #d1fadf;
  --warn: #b42318; --warn-chip: #fee4e2; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
header { display: flex; align-items: center; gap: 18px; padding: 10px 20px; background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 1; }
header h1 { font-size: 16px; margin: 0; white-space: nowrap; }
header h1 span { color: var(--muted); font-weight: 400; }
header .stats { color: var(--muted); flex: 1; }
header .stats b { color: var(--fg); }
header label { color: var(--muted); white-space: nowrap; cursor: pointer; }
.layout { display: grid; grid-template-columns: minmax(240px, 310px) 1fr; align-items: stretch; min-height: calc(100vh - 46px); }
nav { background: #fff; border-right: 1px solid var(--line); padding: 14px 10px; }
nav form { display: flex; gap: 6px; margin: 0 4px 14px; }
nav input[type=search] { flex: 1; min-width: 0; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
nav button { padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; font: inherit; cursor: pointer; }
nav h2 { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 14px 8px 6px; }
nav ul { list-style: none; margin: 0; padding: 0; }
nav li a { display: block; padding: 7px 10px; border-radius: 6px; color: inherit; text-decoration: none; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
nav li a:hover { background: var(--bg); }
nav li a[aria-current=page] { background: var(--accent-bg); box-shadow: inset 3px 0 0 var(--accent); }
nav li small { display: block; color: var(--muted); font-size: 12px; }
nav li .name { display: block; font-weight: 500; overflow: hidden; text-overflow: ellipsis; }
nav p { color: var(--muted); margin: 6px 10px; font-size: 13px; }
main { padding: 20px 28px 40px; min-width: 0; }
main > h2 { margin: 0 0 2px; font-size: 20px; overflow-wrap: anywhere; }
main > .subtitle { color: var(--muted); margin: 0 0 16px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; margin-bottom: 18px; overflow-x: auto; }
section h3 { margin: 0 0 10px; font-size: 14px; }
section h3 small { color: var(--muted); font-weight: 400; margin-left: 6px; }
.empty { color: var(--muted); }
.legend { color: var(--muted); margin: -4px 0 10px; font-size: 13px; }
.notice { border-left: 3px solid var(--warn); background: var(--warn-chip); padding: 8px 12px; border-radius: 4px; }
svg.cluster { display: block; max-width: 100%; height: auto; }
svg.cluster text { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; fill: var(--fg); }
svg.cluster text.detail { font: 11px system-ui, sans-serif; fill: var(--muted); }
svg.cluster .device rect { fill: var(--accent-bg); stroke: #9b8afb; }
svg.cluster .user rect { fill: #ecfdf3; stroke: #32d583; }
svg.cluster .pending rect { fill: #fff; stroke: #98a2b3; stroke-dasharray: 5 4; }
svg.cluster path.link { fill: none; stroke: #7a5af8; stroke-width: 1.6; }
svg.cluster path.link.pending { stroke: #98a2b3; stroke-dasharray: 4 4; }
svg.cluster marker path { fill: #7a5af8; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 500; white-space: nowrap; }
td.n { color: var(--muted); text-align: right; width: 1%; }
td.time { white-space: nowrap; color: var(--muted); }
tr.retro td { background: var(--retro-bg); }
tr.retro td:first-child { box-shadow: inset 3px 0 0 #f79009; }
td.event { min-width: 11em; max-width: 26em; }
td details summary { cursor: pointer; overflow-wrap: break-word; }
td details pre { margin: 6px 0 0; padding: 8px; background: var(--bg); border-radius: 6px; width: 100%; white-space: pre-wrap; overflow-wrap: anywhere; }
td.ids code { white-space: nowrap; }
.arrow { color: var(--muted); margin: 0 4px; }
.badge { display: inline-block; padding: 1px 8px; margin: 1px 4px 1px 0; border-radius: 999px; font-size: 12px; font-weight: 500; white-space: nowrap; }
.badge.retro { color: var(--retro); background: var(--retro-chip); }
.badge.link { color: var(--ok); background: var(--ok-chip); }
.badge.via { color: var(--accent); background: var(--accent-bg); }
.badge.conflict, .badge.verb { color: var(--warn); background: var(--warn-chip); }
.badge.pass { color: var(--ok); background: var(--ok-chip); }
.badge.warn { color: var(--retro); background: var(--retro-chip); }
.badge.fail { color: var(--warn); background: var(--warn-chip); }
.badge.none { color: var(--muted); background: var(--bg); }
header a[aria-current=page] { font-weight: 600; }
.doctor-totals { margin: 0 0 16px; }
section.check h3 .badge { text-transform: uppercase; font-size: 11px; letter-spacing: .04em; }
section.check p { margin: 0 0 8px; }
ul.examples { margin: 0; padding-left: 18px; }
ul.examples li { margin: 8px 0; overflow-wrap: anywhere; }
table.compact { margin: 6px 0 2px; }
table.compact th, table.compact td { padding: 4px 6px; font-size: 12.5px; }
dl.profile { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.profile dt { color: var(--muted); overflow-wrap: anywhere; }
dl.profile dd { margin: 0; overflow-wrap: anywhere; }
@media (max-width: 900px) {
  header { flex-wrap: wrap; position: static; }
  .layout { grid-template-columns: 1fr; min-height: 0; }
  nav { border-right: 0; border-bottom: 1px solid var(--line); }
  main { padding: 16px; }
}
/* A phone: each event of the feed is a card of labelled lines instead of a row of seven columns. */
@media (max-width: 600px) {
  table.feed thead { display: none; }
  table.feed, table.feed tbody, table.feed tr, table.feed td { display: block; width: auto; }
  table.feed tr { padding: 8px 0; border-bottom: 1px solid var(--line); }
  table.feed td { border: 0; padding: 1px 0; text-align: left; }
  table.feed td.n { display: none; }
  table.feed td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-size: 12px; }
  table.feed td.event { max-width: none; }
  header h1 { white-space: normal; }
  section { padding: 12px; }
}
`;

/** Optional auto-refresh (remembered per browser), and times shown in the viewer's zone. */
export const PAGE_SCRIPT = `
(() => {
  const box = document.getElementById('auto-refresh');
  if (box) {
    let timer;
    const arm = () => { clearTimeout(timer); if (box.checked) timer = setTimeout(() => location.reload(), 3000); };
    try { box.checked = localStorage.getItem('idstitch-auto-refresh') === '1'; } catch {}
    box.addEventListener('change', () => { try { localStorage.setItem('idstitch-auto-refresh', box.checked ? '1' : '0'); } catch {} arm(); });
    arm();
  }
  const format = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hour12: false };
  const ago = (ms) => {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s < 5 ? 'just now' : s + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return new Date(ms).toLocaleDateString();
  };
  for (const time of document.querySelectorAll('time[datetime]')) {
    const date = new Date(time.getAttribute('datetime'));
    if (Number.isNaN(date.getTime())) continue;
    time.title = time.getAttribute('datetime');
    time.textContent = time.hasAttribute('data-relative') ? ago(date.getTime()) : date.toLocaleString(undefined, format);
  }
})();
`;
