/** `backup list`'s charts: size (a backup much smaller than the ones before it is called out) and duration. */
import { describe, expect, it } from 'vitest';
import { durationChart, sizeChart, smallBackups } from '../../commands/backup/list.ts';
import { decodeMetadata, encodeMetadata } from '../../commands/backup/objects.ts';
import { PALETTE, renderChartPng } from '../../src/render/chart.ts';
import { chartLine } from '../../src/render/text.ts';
import { decode, near } from '../harness/chart-pixels.ts';

const MIB = 1024 * 1024;
const day = (d: number) => new Date(Date.UTC(2026, 10, d, 2, 0));
const backups = [40, 42, 41, 43, 6, 44].map((mib, i) => ({ name: `autostack-202611${String(20 + i)}-0200.dump`, time: day(20 + i), size: mib * MIB }));

describe('backup size chart', () => {
  it('calls out only the backup under half of the median of the three before it', () => {
    expect(smallBackups(backups)).toEqual([{ name: 'autostack-20261124-0200.dump', time: day(24), size: 6 * MIB, median: 42 * MIB }]);
    // Newest first (as the list shows them) gives the same answer.
    expect(smallBackups([...backups].reverse()).map((b) => b.name)).toEqual(['autostack-20261124-0200.dump']);
    expect(smallBackups(backups.filter((b) => b.size > 10 * MIB))).toEqual([]);
  });

  it('charts sizes oldest first with the small one highlighted and named in the alt text', async () => {
    const chart = sizeChart([...backups].reverse(), 's3://autostack-backups/db/')!;
    expect(chart.series[0]!.points.map((p) => p.value)).toEqual([40, 42, 41, 43, 6, 44]);
    expect(chart.highlights).toEqual([{ at: day(24).getTime(), value: 6, label: '6.00 MiB: small' }]);
    expect(chart.alt).toContain('autostack-20261124-0200.dump is 6.00 MiB, under half of the 42.0 MiB before it');
    expect(chartLine(chart)).toBe(`📈 ▇███▂█ ${chart.alt}`);
    const png = decode(await renderChartPng(chart));
    // The highlight is drawn in the alarm colour somewhere in the image.
    const isAlarm = near(PALETTE.alarm);
    let alarm = 0;
    for (let i = 0; i < png.data.length; i += 4) if (isAlarm([png.data[i]!, png.data[i + 1]!, png.data[i + 2]!])) alarm++;
    expect(alarm).toBeGreaterThan(50);
    expect(sizeChart(backups.slice(0, 1), 's3://x/')).toBeUndefined();
  });

  it('charts how long each backup took, from the duration its metadata recorded, oldest first', () => {
    const recorded = (seconds: number | undefined, d: number) => ({ time: day(d), meta: decodeMetadata(encodeMetadata({ database: 'autostack', ...(seconds === undefined ? {} : { durationMs: seconds * 1000 + 0.4 }) }), 'autostack') });
    const listed = [recorded(95, 24), recorded(undefined, 23), recorded(610, 22), recorded(80, 21)];
    expect(listed[0]!.meta.durationMs).toBe(95_000);
    const chart = durationChart(listed, 's3://autostack-backups/db/')!;
    // The backup that recorded no duration (made before durations were kept) is left out.
    expect(chart.series[0]!.points).toEqual([
      { at: day(21).getTime(), value: 80 },
      { at: day(22).getTime(), value: 610 },
      { at: day(24).getTime(), value: 95 },
    ]);
    expect(chart.alt).toBe('Duration of the 3 newest backups in s3://autostack-backups/db/ that recorded one, 2026-11-21 02:00 UTC to 2026-11-24 02:00 UTC: newest 1m 35s, longest 10m 10s (2026-11-22 02:00 UTC).');
    expect(durationChart([recorded(95, 24), recorded(undefined, 23)], 's3://x/')).toBeUndefined();
  });
});
