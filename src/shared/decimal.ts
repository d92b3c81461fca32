/*
 * Exact decimals. Quantities are numeric(14,6) in the database and travel as strings; sums and
 * differences must not pick up binary floating-point noise (0.1 + 0.2), so they are done in
 * integer millionths, and printed as plain decimals ("1", "0.5", "2.25").
 */

const SCALE = 6;

export function toMicro(value: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!m) throw new Error(`not a decimal: ${value}`);
  const frac = (m[3] ?? '').padEnd(SCALE, '0');
  if (frac.length > SCALE && /[^0]/.test(frac.slice(SCALE))) throw new Error(`more than ${SCALE} decimals: ${value}`);
  const n = BigInt(m[2]!) * 10n ** BigInt(SCALE) + BigInt(frac.slice(0, SCALE) || '0');
  return m[1] === '-' ? -n : n;
}

export function fromMicro(n: bigint): string {
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const unit = 10n ** BigInt(SCALE);
  const whole = abs / unit;
  const frac = (abs % unit).toString().padStart(SCALE, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

/** "0.500000" (numeric from the database) → "0.5" */
export function canonicalDecimal(value: string): string {
  if (!value.includes('.')) return value;
  const trimmed = value.replace(/0+$/, '').replace(/\.$/, '');
  return trimmed === '' || trimmed === '-' ? '0' : trimmed;
}
