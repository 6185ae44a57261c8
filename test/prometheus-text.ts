import { expect } from 'vitest';
import type { TestApp } from './helpers.js';

/** One sample line of the Prometheus text format: `name{label="value",…} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\["\\\\n])*"';
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? (\\S+)$`);
const HELP_LINE = new RegExp(`^# HELP ${NAME} .*$`);
const TYPE_LINE = new RegExp(`^# TYPE ${NAME} (counter|gauge|histogram|summary|untyped)$`);
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"/g;
// Go's ParseFloat, which Prometheus reads values with, takes NaN and Inf in any case (prom-client writes `Nan`).
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?|nan|[+-]?inf)$/i;

/**
 * Parses an exposition in the Prometheus text format (version 0.0.4), throwing on the first line
 * that is neither a sample, a well-formed HELP or TYPE line, another comment, nor empty.
 */
export function parsePrometheusText(text: string): Sample[] {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const samples: Sample[] = [];
  for (const [index, line] of text.slice(0, -1).split('\n').entries()) {
    if (line === '' || HELP_LINE.test(line) || TYPE_LINE.test(line)) continue;
    // Other comments are allowed, but a malformed HELP or TYPE is not.
    if (line.startsWith('#') && !/^#\s*(HELP|TYPE)\b/.test(line)) continue;
    const match = SAMPLE_LINE.exec(line);
    const [, name, labelText, valueText] = match ?? [];
    if (name === undefined || valueText === undefined || !VALUE.test(valueText)) {
      throw new Error(`line ${index + 1} is not in the text format: ${line}`);
    }
    const labels: Record<string, string> = {};
    for (const [, key = '', raw = ''] of (labelText ?? '').matchAll(LABEL_PAIR)) {
      labels[key] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const special = valueText.toLowerCase();
    const value =
      special === 'nan'
        ? Number.NaN
        : special.endsWith('inf')
          ? Number(`${valueText.slice(0, -3)}Infinity`)
          : Number(valueText);
    samples.push({ name, labels, value });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include every one of `labels`. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Whether any sample is named `name` (with these labels). */
export function hasSample(samples: Sample[], name: string, labels: Record<string, string> = {}): boolean {
  return samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** Scrapes `/metrics` as a local Prometheus would (over loopback), and parses what it got. */
export async function scrapeMetrics(t: TestApp): Promise<{ text: string; samples: Sample[] }> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode, res.body).toBe(200);
  return { text: res.body, samples: parsePrometheusText(res.body) };
}
