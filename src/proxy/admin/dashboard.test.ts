/**
 * The Grafana dashboards in dashboards/ parse, and every metric and label its PromQL names is one a Trellis
 * proxy exports (the names taken from a real IstioStats' Prometheus output, HTTP and TCP).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { IstioStats } from './stats.js';
import { LABEL_NAMES } from './istio-labels.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';

/** The repository's dashboards/ folder. */
const DIR = path.resolve(import.meta.dirname, '../../../dashboards');

function exported(): { metrics: Set<string>; labels: Set<string> } {
  const stats = new IstioStats({
    nodeId: 'sidecar~127.0.0.1~a.default~default.svc.cluster.local',
    cluster: 'a.default',
    mode: 'sidecar',
    namespace: 'default',
    workloadName: 'a',
    labels: { app: 'a' },
    instanceIps: ['127.0.0.1'],
    locality: '',
  });
  const info: StreamInfo = {
    startWallMs: 0,
    startMs: 0,
    reporter: 'source',
    method: 'GET',
    path: '/',
    authority: 'b:80',
    protocol: 'HTTP/1.1',
    requestId: '',
    requestHeaders: {},
    userAgent: '',
    forwardedFor: '',
    downstreamRemote: '127.0.0.1',
    status: 200,
    flags: new Set(),
    bytesReceived: 1,
    bytesSent: 1,
    durationMs: 1,
    attempts: 1,
    upstreamCluster: 'outbound|80||b.default.svc.cluster.local',
  };
  stats.record(info);
  stats.tcpSeries(info);
  const text = stats.prometheus();
  const metrics = new Set([...text.matchAll(/^(istio_[a-z_]+)\{/gm)].map((m) => m[1]!));
  return { metrics, labels: new Set([...LABEL_NAMES, 'le']) };
}

for (const file of fs.readdirSync(DIR).filter((f) => f.endsWith('.json'))) {
  test(`${file}: parses, and names only metrics and labels the proxy exports`, () => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as {
      title?: string;
      panels?: { title?: string; targets?: { expr?: string }[] }[];
    };
    assert.ok(dashboard.title, 'a title');
    const exprs = (dashboard.panels ?? []).flatMap((p) =>
      (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })),
    );
    assert.ok(exprs.length >= 10, 'panels with queries');
    const { metrics, labels } = exported();
    assert.ok(metrics.has('istio_tcp_sent_bytes_total'), 'the reference includes TCP metrics');
    for (const { panel, expr } of exprs) {
      const named = [...expr.matchAll(/\b(istio_[a-z_]+)/g)].map((m) => m[1]!);
      assert.ok(named.length > 0, `${panel}: names a metric`);
      for (const m of named) assert.ok(metrics.has(m), `${panel}: ${m} is not exported by the proxy`);
      const inBy = [...expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) =>
        m[1]!.split(',').map((s) => s.trim()),
      );
      const inMatchers = [...expr.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)\s*"/g)].map((m) => m[1]!);
      for (const l of [...inBy, ...inMatchers])
        assert.ok(labels.has(l), `${panel}: label ${l} is not one the proxy exports`);
    }
  });
}
