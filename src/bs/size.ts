// Size strings of backing-store options ("64M", "size=1G"): tgt-style K/M/G/T binary units (tgt-compat.md A6).

const UNITS: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** "64M" -> 67108864; accepts an optional "B"/"iB" suffix and lower case; null if not a size. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$/.exec(text);
  if (m === null) return null;
  const n = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  return Number.isSafeInteger(n) ? n : null;
}

/** The value of `key` in a tgt bsopts string ("a=b;c=d", ',' also accepted), or null. */
export function bsoptValue(bsopts: string, key: string): string | null {
  for (const part of bsopts.split(/[;,]/)) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === key) return part.slice(eq + 1).trim();
  }
  return null;
}
