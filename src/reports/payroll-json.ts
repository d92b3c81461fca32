/** Rendering a recorded payroll export as JSON, streamed chunk by chunk. */
import type { Queryable } from '../db/client.js';
import { EXPORT_CHUNK_ROWS, exportChunks, exportLine } from './payroll-chunks.js';
import type { RecordedExport } from './payroll-types.js';

/**
 * The export as JSON, piece by piece: exactly `JSON.stringify(export, null, indent)` of the whole
 * document (members export_id, exported_at, from, to, lines, kinds, baseline, adjustments,
 * columns, in that order), without ever building it.
 */
export async function* payrollJson(db: Queryable, exp: RecordedExport, indent = 0, chunkRows = EXPORT_CHUNK_ROWS): AsyncGenerator<string> {
  const nl = (depth: number) => (indent ? `\n${' '.repeat(indent * depth)}` : '');
  const value = (v: unknown, depth: number) => {
    const text = JSON.stringify(v, null, indent);
    return indent ? text.replace(/\n/g, nl(depth)) : text;
  };
  const colon = indent ? ': ' : ':';
  const member = (first: boolean, key: string) => `${first ? '' : ','}${nl(1)}${JSON.stringify(key)}${colon}`;
  let out = `{${member(true, 'export_id')}${value(exp.export_id, 1)}`;
  out += `${member(false, 'exported_at')}${value(exp.exported_at, 1)}`;
  out += `${member(false, 'from')}${value(exp.from, 1)}`;
  out += `${member(false, 'to')}${value(exp.to, 1)}`;
  out += `${member(false, 'lines')}[`;
  let lines = 0;
  let adjustments = 0;
  const afterLines = () => {
    let tail = `${lines ? nl(1) : ''}]`;
    if (exp.kinds) tail += `${member(false, 'kinds')}${value(exp.kinds, 1)}`;
    if (exp.baseline) tail += `${member(false, 'baseline')}${value(exp.baseline, 1)}`;
    if (exp.withAdjustments) tail += `${member(false, 'adjustments')}[`;
    return tail;
  };
  let linesClosed = false;
  for await (const rows of exportChunks(db, exp, chunkRows)) {
    for (const r of rows) {
      if (r.line_type === 'adjustment') {
        if (!linesClosed) {
          out += afterLines();
          linesClosed = true;
        }
        out += `${adjustments++ ? ',' : ''}${nl(2)}${value(exportLine(r, exp), 2)}`;
      } else {
        out += `${lines++ ? ',' : ''}${nl(2)}${value(exportLine(r, exp), 2)}`;
      }
    }
    yield out;
    out = '';
  }
  if (!linesClosed) out += afterLines();
  if (exp.withAdjustments) out += `${adjustments ? nl(1) : ''}]`;
  if (exp.columns) out += `${member(false, 'columns')}${value(exp.columns, 1)}`;
  yield `${out}${nl(0)}}`;
}
