/** The code blocks of the README and the commands in its shell blocks (for readme.test.ts and package-install.ts). */

export interface Block {
  lang: string;
  text: string;
  /** The `<!-- test: ... -->` marker right above the block, if any. */
  marker: string | null;
  line: number;
}

/** The fenced code blocks of a Markdown text. */
export function codeBlocks(md: string): Block[] {
  const blocks: Block[] = [];
  const re = /(?:<!-- test: ([\w-]+) -->\n)?```(\w*)\n([\s\S]*?)```/g;
  for (let m = re.exec(md); m; m = re.exec(md)) blocks.push({ marker: m[1] ?? null, lang: m[2], text: m[3], line: md.slice(0, m.index).split('\n').length });
  return blocks;
}

/** The commands of a shell block: one per line, comments and blank lines dropped. */
export function shellCommands(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Splits a command line into words (single and double quotes group; no expansion). */
export function words(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}
