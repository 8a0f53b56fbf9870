import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { compileUriTemplate } from './uri-template.js';

test("path templates match as Envoy's uri_template matcher does", () => {
  const cases: [string, string, boolean][] = [
    // `*`: exactly one non-empty segment.
    ['/foo/*', '/foo/bar', true],
    ['/foo/*', '/foo/', false],
    ['/foo/*', '/foo', false],
    ['/foo/*', '/foo/bar/baz', false],
    ['/foo/*/baz', '/foo/bar/baz', true],
    ['/foo/*/baz', '/foo//baz', false],
    // `**`: the rest of the path, slashes included, possibly empty.
    ['/foo/**', '/foo/', true],
    ['/foo/**', '/foo/a/b/c', true],
    ['/foo/**', '/foo', false],
    ['/foo/**', '/foobar', false],
    ['/**', '/', true],
    ['/**', '/anything/at/all', true],
    // A suffix after the last glob.
    ['/static/**.js', '/static/a/b.js', true],
    ['/static/**.js', '/static/a/b.css', false],
    ['/static/*.js', '/static/a.js', true],
    ['/static/*.js', '/static/a/b.js', false],
    // Variables: `{name}` is one segment, `{name=**}` the rest.
    ['/v1/{user}/items', '/v1/alice/items', true],
    ['/v1/{user}/items', '/v1/a/b/items', false],
    ['/v1/{rest=**}', '/v1/a/b', true],
    ['/v1/{rest=docs/*}', '/v1/docs/x', true],
    ['/v1/{rest=docs/*}', '/v1/pics/x', false],
    // Literals are exact and case-sensitive; regex characters in them are literal.
    ['/a.b/*', '/axb/c', false],
    ['/a.b/*', '/a.b/c', true],
    ['/Admin/*', '/admin/x', false],
    // The query and fragment are not part of the path.
    ['/foo/*', '/foo/bar?x=/y', true],
    ['/foo/*', '/foo/bar#f', true],
    // `*` and `=` are not pchar literals in a segment a glob matches (Envoy's kLiteral).
    ['/foo/*', '/foo/a*b', false],
    ['/foo/*', '/foo/a=b', false],
    ['/foo/*', '/foo/%2F', true],
    ['/trailing/', '/trailing/', true],
    ['/trailing/', '/trailing', false],
  ];
  for (const [template, path, want] of cases)
    assert.equal(compileUriTemplate(template, 'p')(path), want, `${template} vs ${path}`);
});

test('bad templates are refused with the field path', () => {
  const bad = [
    'foo/*', // no leading slash
    '/foo/{*}', // Istio's spelling: Envoy wants `*`
    '/foo/{**}',
    '/foo/**/bar/*', // a glob after **
    '/foo//bar', // empty segment
    '/foo/{a}/{a}', // repeated variable
    '/foo/{1a}',
    '/foo/{a', // unmatched brace
    '/foo bar',
    '/a/{a}/{b}/{c}/{d}/{e}/{f}', // more than 5 variables
    '/foo/*.js/bar', // a suffix only at the end
    '/foo/{x=}',
  ];
  for (const template of bad) {
    assert.throws(
      () =>
        compileUriTemplate(
          template,
          'rules.policies["p"].permissions[0].uri_template.typed_config.path_template',
        ),
      (e: unknown) =>
        isTrellisError(e) &&
        e.path === 'rules.policies["p"].permissions[0].uri_template.typed_config.path_template',
      template,
    );
  }
});
