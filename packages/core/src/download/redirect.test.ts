import { describe, expect, it } from 'vitest';
import { credentialsFromUrl, headersForRedirect, redirectTarget } from './redirect.js';

describe('redirect policy', () => {
  const from = new URL('https://mirror.example:8443/dl/kubeadm');
  const headers = { Authorization: 'Bearer t', Cookie: 'a=b', 'proxy-authorization': 'x', range: 'bytes=5-' };

  it('keeps every header on the same origin', () => {
    expect(headersForRedirect(from, new URL('https://mirror.example:8443/other'), headers)).toEqual(headers);
  });

  it('drops credentials when the host, port or scheme changes, and keeps the rest', () => {
    for (const to of ['https://cdn.example/x', 'https://mirror.example/x', 'http://mirror.example:8443/x']) {
      expect(headersForRedirect(from, new URL(to), headers)).toEqual({ range: 'bytes=5-' });
    }
  });

  it('resolves relative locations and refuses non-HTTP targets', () => {
    expect(redirectTarget(from, '../b').href).toBe('https://mirror.example:8443/b');
    expect(() => redirectTarget(from, 'file:///etc/passwd')).toThrow(/does not follow/);
    expect(() => redirectTarget(from, undefined)).toThrow(/no Location/);
  });

  it('turns user:password in a URL into a Basic header', () => {
    const { url, headers: auth } = credentialsFromUrl(new URL('https://u%40x:p%3Aw@mirror.example/f'));
    expect(url.href).toBe('https://mirror.example/f');
    expect(Buffer.from(auth['authorization']!.replace('Basic ', ''), 'base64').toString()).toBe('u@x:p:w');
  });
});
