/**
 * No stream of the bot is consumed with .pipe(), which does not forward the source's errors: an
 * aborted log stream then emits an 'error' nobody listens to and the process exits. The lint rule
 * that forbids it must cover the bot's code (`npm run lint` holds the code to it).
 */
import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';

const RULE = 'no-restricted-syntax';
const eslint = new ESLint({ ruleFilter: ({ ruleId }) => ruleId === RULE });

async function lint(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => m.message);
}

describe('streams are consumed with pipeline(), never .pipe()', () => {
  const piped = "import { Readable, PassThrough } from 'node:stream';\nReadable.from(['x']).pipe(new PassThrough());\n";

  it.each(['src/core/example.ts', 'commands/backup/example.ts', 'jobs/example.ts'])('a .pipe( in %s is an error', async (file) => {
    expect(await lint(piped, file)).toEqual([expect.stringContaining("Use pipeline() from 'node:stream/promises'")]);
  });

  it('pipeline() passes', async () => {
    const code = "import { Readable, PassThrough } from 'node:stream';\nimport { pipeline } from 'node:stream/promises';\nawait pipeline(Readable.from(['x']), new PassThrough());\n";
    expect(await lint(code, 'commands/backup/example.ts')).toEqual([]);
  });
});
