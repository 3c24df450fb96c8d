/**
 * One self-contained HTML page: the document as JSON in an inert
 * <script type="application/json"> block, a small stylesheet, and the drawing
 * script (client.ts). Nothing is fetched; a Content-Security-Policy allows only
 * this page's own script and style (by hash), so nothing else could run or load.
 */
import { createHash } from 'node:crypto';
import { CLIENT_SCRIPT } from './client.js';
import type { ReportDocument } from './document.js';

const STYLE = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #fff; --panel: #f6f7f9; --accent: #2f6fb2; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header, main { max-width: 1320px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; }
h1 { font-size: 22px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 12px 0 6px; }
.subtitle, .note, .generated { color: var(--muted); margin: 0 0 6px; }
nav { margin: 8px 0; display: flex; flex-wrap: wrap; gap: 4px 14px; }
nav a { color: var(--accent); text-decoration: none; }
.warnings { background: #fff7e0; border: 1px solid #f0d68a; border-radius: 6px; padding: 6px 10px 6px 28px; margin: 10px 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px; }
figure.chart { position: relative; margin: 0; padding: 8px 10px 6px; background: var(--panel); border-radius: 8px; }
figcaption { font-weight: 600; margin-bottom: 4px; overflow-wrap: anywhere; }
svg.plot { display: block; width: 100%; height: auto; }
svg.plot text { font-size: 11px; fill: var(--muted); }
svg.plot .grid { stroke: #e4e7ec; stroke-width: 1; }
svg.plot .axis { stroke: #9aa3b2; stroke-width: 1; }
svg.plot .cursor { stroke: #888; stroke-dasharray: 3 3; }
.legend { display: flex; flex-wrap: wrap; gap: 2px 12px; margin: 4px 0 0; padding: 0; list-style: none; font-size: 12px; }
.legend li { display: flex; align-items: center; gap: 5px; overflow-wrap: anywhere; }
.swatch { width: 12px; height: 12px; border-radius: 2px; flex: none; }
.tooltip { position: absolute; pointer-events: none; background: rgba(255,255,255,.96); border: 1px solid var(--line); border-radius: 4px; padding: 4px 7px; font-size: 12px; white-space: pre; display: none; box-shadow: 0 1px 4px rgba(0,0,0,.12); z-index: 2; }
table { border-collapse: collapse; margin: 4px 0 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; white-space: normal; overflow-wrap: break-word; min-width: 8em; max-width: 30em; }
th { background: var(--panel); font-weight: 600; }
td.best { font-weight: 700; color: #1f7a3a; }
details { margin: 20px 0 40px; }
pre { background: var(--panel); padding: 10px; border-radius: 6px; overflow: auto; max-height: 480px; }
.empty { color: var(--muted); font-style: italic; }
.chart-note { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
.table .note { max-width: 70em; font-size: 12px; }
`;

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that is safe inside a <script> element: no "<" (so no "</script>" or
 * "<!--"), no ">" or "&", and no U+2028/U+2029; JSON.parse reads it back unchanged.
 */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export function renderHtml(doc: ReportDocument): string {
  const csp = `default-src 'none'; script-src ${hash(CLIENT_SCRIPT)}; style-src ${hash(STYLE)}; img-src data:; base-uri 'none'; form-action 'none'`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="multitask">
<title>${escapeHtml(doc.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<div id="report"><noscript>This report draws its charts with JavaScript; please enable it.</noscript></div>
<script type="application/json" id="report-data">${scriptSafeJson(doc)}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
