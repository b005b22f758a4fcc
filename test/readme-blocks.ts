/**
 * The code blocks of the README and docs/*.md, the commands in their shell blocks and their relative
 * links (for readme.test.ts and package-install.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

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

/** The commands of a shell block: one per line (a line ending in `\\` continues on the next), comments and blank lines dropped. */
export function shellCommands(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** The documentation pages, in the order their user-project blocks run: README.md, then docs/*.md by name (not docs/api/, TypeDoc's output). */
export function docPages(root: string): string[] {
  const docs = readdirSync(path.join(root, 'docs'), { withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith('.md'))
    .map((d) => `docs/${d.name}`)
    .sort();
  return ['README.md', ...docs];
}

/** A code block and the page (relative to the root) it is on. */
export interface PageBlock extends Block {
  file: string;
}

/** The code blocks of every documentation page, page by page in the order of `docPages`. */
export function pageBlocks(root: string): PageBlock[] {
  return docPages(root).flatMap((file) => codeBlocks(readFileSync(path.join(root, file), 'utf8')).map((b) => ({ ...b, file })));
}

/**
 * The relative links of a Markdown text (outside code blocks): the target file (empty for a link
 * within the page) and the `#fragment`, if any; web and mail links left out.
 */
export function relativeLinks(md: string): { target: string; fragment: string | null; line: number }[] {
  const prose = withoutCode(md);
  const links: { target: string; fragment: string | null; line: number }[] = [];
  for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    if (/^[a-z][a-z+.-]*:/i.test(m[1])) continue;
    const [target, fragment] = m[1].split('#', 2);
    links.push({ target: decodeURI(target), fragment: fragment ?? null, line: prose.slice(0, m.index).split('\n').length });
  }
  return links;
}

/** A Markdown text with its fenced code blocks blanked (line numbers kept). */
function withoutCode(md: string): string {
  return md.replace(/```[\s\S]*?```/g, (block) => block.replace(/[^\n]/g, ' '));
}

/** The anchors of a page's headings as GitHub makes them: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingAnchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of withoutCode(md).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n ? `${base}-${n}` : base);
  }
  return anchors;
}

/** Splits a command line into words (single and double quotes group; no expansion). */
export function words(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}
