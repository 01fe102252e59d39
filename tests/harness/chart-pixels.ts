/** Reading a rendered chart's pixels: where a value or a moment falls in the plot, and what is drawn there. */
import { PNG } from 'pngjs';
import { CHART_LAYOUT } from '../../src/render/chart.ts';

const { width, height, padding } = CHART_LAYOUT;

export function decode(bytes: Buffer): PNG {
  return PNG.sync.read(bytes);
}

/** The pixel row of `value` on a y axis from 0 to `top`. */
export function rowOf(value: number, top: number): number {
  return Math.round(padding.top + height * (1 - value / top));
}

/** The pixel column of `at` on a time axis from `from` to `to`. */
export function columnOf(at: number, from: number, to: number): number {
  return Math.round(padding.left + (width * (at - from)) / (to - from));
}

const rgb = (png: PNG, x: number, y: number) => {
  const i = (png.width * y + x) * 4;
  return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!] as const;
};

/** Within antialiasing's reach of `colour` ("#rrggbb"). */
export function near(colour: string): (pixel: readonly [number, number, number]) => boolean {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16)) as [number, number, number];
  return ([pr, pg, pb]) => Math.abs(pr - r) < 40 && Math.abs(pg - g) < 40 && Math.abs(pb - b) < 40;
}

/** A dark grey (the markers' colour, thinned by antialiasing on a thin dashed line). */
export const darkGrey = ([r, g, b]: readonly [number, number, number]) => r < 160 && Math.abs(r - g) < 12 && Math.abs(g - b) < 12;

/** Share of the plot's pixels in row `y` that `matches`. */
export function shareOfRow(png: PNG, y: number, matches: (pixel: readonly [number, number, number]) => boolean): number {
  let hits = 0;
  for (let x = padding.left; x < padding.left + width; x++) if (matches(rgb(png, x, y))) hits++;
  return hits / width;
}

/** Share of the plot's pixels in column `x` that `matches`. */
export function shareOfColumn(png: PNG, x: number, matches: (pixel: readonly [number, number, number]) => boolean): number {
  let hits = 0;
  for (let y = padding.top; y < padding.top + height; y++) if (matches(rgb(png, x, y))) hits++;
  return hits / height;
}

/** The best share within a pixel of `at` (a line is antialiased over two rows or columns). */
export function around(at: number, share: (at: number) => number): number {
  return Math.max(share(at - 1), share(at), share(at + 1));
}
