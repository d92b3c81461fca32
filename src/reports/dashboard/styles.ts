/** The dashboard's one stylesheet, inlined (the strict CSP allows inline styles and nothing from elsewhere). */
export const CSS = `
:root { color-scheme: light; --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f1f5f9; --card:#fff; --accent:#2563eb;
  --err:#b91c1c; --err-bg:#fee2e2; --warn:#92400e; --warn-bg:#fef3c7; --info:#1e40af; --info-bg:#dbeafe; --ok:#166534; --ok-bg:#dcfce7; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; color:var(--ink); background:var(--bg); }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
header.top { background:#0f172a; color:#fff; }
header.top .bar { display:flex; align-items:center; justify-content:space-between; gap:16px; flex-wrap:wrap; padding-top:12px; padding-bottom:12px; }
header.top h1 { font-size:18px; margin:0; font-weight:650; letter-spacing:.2px; }
header.top h1 span { color:#94a3b8; font-weight:400; }
header.top .subbar { background:#1e293b; }
header.top .subbar .bar { padding-top:8px; padding-bottom:8px; }
header.top form.period { display:flex; gap:12px; align-items:center; flex-wrap:wrap; }
header.top label { color:#cbd5e1; font-size:13px; }
header.top input[type=date] { font:inherit; font-size:13px; padding:3px 6px; border-radius:6px; border:1px solid #475569; background:#0f172a; color:#fff; color-scheme:dark; }
header.top input[type=checkbox] { vertical-align:-2px; }
header.top .nav a { color:#e2e8f0; margin-right:14px; font-size:13px; }
button, .btn { font:inherit; font-size:13px; padding:5px 12px; border-radius:6px; border:1px solid transparent; background:var(--accent); color:#fff; cursor:pointer; }
button.ghost { background:transparent; border-color:#475569; color:#cbd5e1; }
.wrap { max-width:1200px; margin:0 auto; padding:0 24px; }
main.wrap { padding-top:20px; padding-bottom:40px; }
.sub { color:var(--muted); margin:0 0 16px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(170px, 1fr)); gap:14px; margin-bottom:20px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:14px 16px; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.5px; }
.card .value { font-size:30px; font-weight:650; line-height:1.2; margin-top:4px; font-variant-numeric:tabular-nums; }
.card .note { color:var(--muted); font-size:12px; margin-top:2px; }
.card.bad .value { color:var(--err); } .card.warn .value { color:var(--warn); } .card.good .value { color:var(--ok); }
section.panel { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px; margin-bottom:20px; }
section.panel h2 { font-size:16px; margin:0 0 4px; } section.panel .hint { color:var(--muted); font-size:12px; margin:0 0 10px; }
.grid2 { display:grid; grid-template-columns: minmax(0,1fr) minmax(0,2fr); gap:20px; }
@media (max-width: 900px) { .grid2 { grid-template-columns:1fr; } }
table { width:100%; border-collapse:collapse; font-size:13px; }
th { text-align:left; color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.4px; border-bottom:1px solid var(--line); padding:6px 8px; }
td { border-bottom:1px solid var(--line); padding:7px 8px; vertical-align:top; overflow-wrap:anywhere; }
.scroll { overflow-x:auto; }
table.drift td.detail { min-width:260px; } table.drift td.action { min-width:220px; }
.stats { display:flex; flex-wrap:wrap; gap:10px; margin:6px 0 4px; }
.stat { border:1px solid var(--line); border-radius:8px; padding:8px 14px; min-width:110px; }
.stat .n { font-size:22px; font-weight:650; font-variant-numeric:tabular-nums; }
.stat .l { color:var(--muted); font-size:12px; }
.stat.error .n { color:var(--err); } .stat.info .n { color:var(--info); }
.small { font-size:11px; color:var(--muted); }
tr:last-child td { border-bottom:none; }
td.nowrap, .nowrap { white-space:nowrap; overflow-wrap:normal; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
code, .mono, td.cat { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12px; }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; white-space:nowrap; }
.badge.error { color:var(--err); background:var(--err-bg); } .badge.warning { color:var(--warn); background:var(--warn-bg); }
.badge.info { color:var(--info); background:var(--info-bg); } .badge.ok { color:var(--ok); background:var(--ok-bg); }
.cat { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12px; white-space:nowrap; }
.action { color:#334155; }
.empty { color:var(--muted); padding:18px 4px; text-align:center; }
.chips { display:flex; flex-wrap:wrap; gap:6px; margin-bottom:10px; }
.chip { text-decoration:none; border:1px solid var(--line); border-radius:999px; padding:2px 10px; font-size:12px; color:#334155; background:#f8fafc; }
.chip b { font-variant-numeric:tabular-nums; }
.chart { display:block; max-width:100%; height:auto; }
footer { color:var(--muted); font-size:12px; margin-top:8px; }
.login { max-width:380px; margin:12vh auto; background:#fff; border:1px solid var(--line); border-radius:12px; padding:28px; }
.login h1 { font-size:20px; margin:0 0 6px; } .login p { color:var(--muted); margin:0 0 18px; }
.login input { width:100%; font:inherit; padding:8px 10px; border:1px solid #cbd5e1; border-radius:8px; margin:6px 0 14px; }
.login a.btn { display:inline-block; margin-bottom:8px; }
header.top .session { display:flex; align-items:center; gap:12px; font-size:13px; color:#cbd5e1; }
header.top .session a { color:#e2e8f0; }
form.filters { display:flex; flex-wrap:wrap; gap:12px; align-items:center; margin-bottom:12px; }
form.filters input, form.filters select { font:inherit; font-size:13px; padding:3px 6px; border:1px solid #cbd5e1; border-radius:6px; }
.login .error { color:var(--err); background:var(--err-bg); border-radius:8px; padding:8px 10px; margin-bottom:14px; }
dl.facts { display:grid; grid-template-columns: 160px 1fr; gap:6px 16px; margin:0; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
form.inline { display:inline; } button.ghost.dark { border-color:#cbd5e1; color:#334155; padding:2px 8px; }
form.policy { display:grid; grid-template-columns:repeat(auto-fit, minmax(260px, 1fr)); gap:10px 16px; align-items:end; }
form.policy label { display:flex; flex-direction:column; gap:3px; color:var(--muted); font-size:12px; }
form.policy input, form.policy select { font:inherit; font-size:13px; padding:4px 6px; border:1px solid #cbd5e1; border-radius:6px; color:var(--ink); }
.notice { border-radius:8px; padding:8px 12px; margin:0 0 14px; } .notice.error { color:var(--err); background:var(--err-bg); } .notice.ok { color:var(--ok); background:var(--ok-bg); }
`;
