import { describe, expect, it } from 'vitest';
import { escapeHtml, scriptSafeJson } from '../../src/report/html.js';

describe('escaping', () => {
  it('escapes HTML and script-embedded JSON', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    const value = { s: '</script><!-- \u2028 & >' };
    const json = scriptSafeJson(value);
    expect(json).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(json)).toEqual(value);
  });
});
