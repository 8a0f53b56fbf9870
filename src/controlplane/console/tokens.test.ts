import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTokenFile, roleOf, splitCsvRecord } from './tokens.js';

test('CSV records: quoted groups, escaped quotes, unclosed quotes', () => {
  const rows: [string, string[] | undefined][] = [
    ['t,alice,1', ['t', 'alice', '1']],
    ['t,alice,1,"trellis:editors,dev"', ['t', 'alice', '1', 'trellis:editors,dev']],
    ['t,"Alice ""A"" Smith",1', ['t', 'Alice "A" Smith', '1']],
    ['t,alice,1,', ['t', 'alice', '1', '']],
    ['t,alice,1,"trellis:editors', undefined],
    ['to"k,alice,1', ['to"k', 'alice', '1']],
  ];
  for (const [line, want] of rows) assert.deepEqual(splitCsvRecord(line), want, line);
});

test('roles: editors win over viewers; other groups give none', () => {
  assert.equal(roleOf(['trellis:viewers', 'trellis:editors']), 'editor');
  assert.equal(roleOf(['dev', 'trellis:viewers']), 'viewer');
  assert.equal(roleOf(['system:masters']), undefined);
  assert.equal(roleOf([]), undefined);
});

test('a Kubernetes token file: each user with its role; blank and # lines skipped', () => {
  const { entries, problems } = parseTokenFile(
    '  # console users\n   \nsecret-a,alice,1001,"trellis:editors, dev,"\r\nsecret-b, bob ,1002,trellis:viewers\n',
    'tokens.csv',
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(entries, [
    { token: 'secret-a', user: 'alice', uid: '1001', groups: ['trellis:editors', 'dev'], role: 'editor' },
    { token: 'secret-b', user: 'bob', uid: '1002', groups: ['trellis:viewers'], role: 'viewer' },
  ]);
});

test('bad lines are reported with file:line and what to write; good lines still count', () => {
  const { entries, problems } = parseTokenFile(
    [
      'only-two,fields',
      'a,b,c,d,e',
      ',nobody,1,trellis:viewers',
      'has space,x,1,trellis:viewers',
      'tok,carol,3,"trellis:editors',
      'tok2,dave,4,dev',
      'good,erin,5,trellis:viewers',
      'good,frank,6,trellis:editors',
      'tok9,,1,trellis:viewers',
      'tokx,gina,7',
    ].join('\n'),
    'tokens.csv',
  );
  assert.deepEqual(
    entries.map((e) => e.user),
    ['erin'],
  );
  assert.deepEqual(problems, [
    'tokens.csv:1: expected token,user,uid,"groups" (2 field(s) found); quote groups containing commas',
    'tokens.csv:2: expected token,user,uid,"groups" (5 field(s) found); quote groups containing commas',
    'tokens.csv:3: the token and the user name must not be empty',
    'tokens.csv:4: the token contains whitespace; a bearer token is one word',
    'tokens.csv:5: unclosed quote; quote the groups as "group1,group2"',
    'tokens.csv:6: user "dave" is in neither trellis:editors nor trellis:viewers; add one to its groups ("trellis:viewers")',
    'tokens.csv:8: the same token as line 7; give each user its own token',
    'tokens.csv:9: the token and the user name must not be empty',
    'tokens.csv:10: user "gina" is in neither trellis:editors nor trellis:viewers; add one to its groups ("trellis:viewers")',
  ]);
  // Only bad lines: just their problems, not also "no tokens".
  assert.deepEqual(parseTokenFile('tokx,gina,7\n', 'f.csv').problems, [
    'f.csv:1: user "gina" is in neither trellis:editors nor trellis:viewers; add one to its groups ("trellis:viewers")',
  ]);
});

test('a file with no tokens says how to add one', () => {
  assert.deepEqual(parseTokenFile('# nothing\n', 'f.csv').problems, [
    'f.csv: no tokens; add a line token,user,uid,"trellis:editors"',
  ]);
});
