/**
 * The three real datasets: their names, where each source format keeps them, and the public files
 * `fetch` downloads. Checksums are recorded here; see `FetchFile.sha256` for where each came from.
 */
import { commandLine } from '../core/launcher.ts';

export const DATASET_NAMES = ['ml-1m', 'steam', 'books'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export function isDatasetName(s: string): s is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(s);
}

/** One public file that `fetch` downloads. */
export interface FetchFile {
  readonly url: string;
  /** Name of the downloaded file in the dataset's cache folder. */
  readonly fileName: string;
  /**
   * Expected SHA-256 (hex). `null` when no trustworthy recorded value was found: fetch then refuses
   * the download unless `--allow-unverified` is given.
   */
  readonly sha256: string | null;
  /** Where the checksum comes from (for the report and for anyone auditing it). */
  readonly checksumSource: string;
  /** Expected size in bytes, when known (lets fetch fail fast and show an ETA before headers). */
  readonly size?: number;
  /** A second, independent digest where the publisher gives one (GroupLens publishes MD5). */
  readonly md5?: string;
  /** A zip archive to extract into the dataset's cache folder after verification. */
  readonly extract?: 'zip';
  /**
   * The file's path under a mirror's base URL (`--base-url`), when it is not the URL's last path
   * segment: release files of different datasets share names (every dataset has a
   * `qwen3-embedding-8b-pca.sem_ids`), so the mirror keeps the release's folders.
   */
  readonly mirrorPath?: string;
}

export interface DatasetSpec {
  readonly name: DatasetName;
  readonly title: string;
  /** Folder and file stem in the ProRL release (`ml-1m/ml-1m.val`, `Steam/Steam.val`, ...). */
  readonly releaseName: string;
  /** True when the release's val/test/sem_ids ids are the datamaps internal ids (Books). */
  readonly releaseUsesInternalIds: boolean;
  /** What a raw id is, for notes. */
  readonly rawIdKind: string;
  /** RecBole atomic-file dataset name (`<name>/<name>.inter`, `.item`). */
  readonly recboleName: string;
  readonly fetch: readonly FetchFile[];
  /** What to tell a user who has no data for this dataset. */
  readonly howToGet: string;
}

const TFDS =
  "TensorFlow Datasets url_checksums/movielens.txt (size 5917549); the same value is pinned in several independent public projects; MD5 matches GroupLens' published ml-1m.zip.md5";
const UNVERIFIED = 'none found: no public code records a SHA-256 for this file';

export const DATASETS: Readonly<Record<DatasetName, DatasetSpec>> = {
  'ml-1m': {
    name: 'ml-1m',
    title: 'MovieLens-1M (GroupLens)',
    releaseName: 'ml-1m',
    releaseUsesInternalIds: false,
    rawIdKind: 'MovieLens movie ids',
    recboleName: 'ml-1m-sas',
    fetch: [
      {
        url: 'https://files.grouplens.org/datasets/movielens/ml-1m.zip',
        fileName: 'ml-1m.zip',
        sha256: 'a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20',
        md5: 'c4d9eecfca2ab87c1945afe126590906',
        size: 5917549,
        checksumSource: TFDS,
        extract: 'zip',
      },
    ],
    get howToGet() {
      return `${commandLine('data', 'fetch prorl-release')} (the ProRL release files, 13 MB, with the paper's own test cases), or ${commandLine('data', 'fetch ml-1m')} (downloads the GroupLens archive), or pass --data-dir / PRORL_DATA_DIR pointing at a folder with ratings.dat and movies.dat, RecBole ml-1m-sas.inter/.item, or the ProRL release.`;
    },
  },
  steam: {
    name: 'steam',
    title: 'Steam (McAuley lab, UCSD)',
    releaseName: 'Steam',
    releaseUsesInternalIds: false,
    rawIdKind: 'Steam app ids',
    recboleName: 'steam-merged',
    fetch: [
      {
        url: 'https://mcauleylab.ucsd.edu/public_datasets/data/steam/steam_reviews.json.gz',
        fileName: 'steam_reviews.json.gz',
        sha256: null,
        checksumSource: UNVERIFIED,
      },
      {
        url: 'https://mcauleylab.ucsd.edu/public_datasets/data/steam/steam_games.json.gz',
        fileName: 'steam_games.json.gz',
        sha256: null,
        checksumSource: UNVERIFIED,
      },
    ],
    get howToGet() {
      return `${commandLine('data', 'fetch prorl-release')} (the ProRL release files, 13 MB, with the paper's own test cases), or ${commandLine('data', 'fetch steam --allow-unverified')} (no recorded checksum exists), or pass --data-dir / PRORL_DATA_DIR pointing at a folder with steam_reviews.json.gz (+ steam_games.json.gz), RecBole steam-merged.inter/.item, or the ProRL release.`;
    },
  },
  books: {
    name: 'books',
    title: 'Amazon Review Data (2018), Books (McAuley lab)',
    releaseName: 'Books',
    releaseUsesInternalIds: true,
    rawIdKind: 'Amazon ASINs',
    recboleName: 'amazon-books',
    fetch: [
      {
        url: 'https://mcauleylab.ucsd.edu/public_datasets/data/amazon_v2/categoryFiles/Books.json.gz',
        fileName: 'Books.json.gz',
        sha256: null,
        checksumSource: UNVERIFIED,
      },
      {
        url: 'https://mcauleylab.ucsd.edu/public_datasets/data/amazon_v2/metaFiles2/meta_Books.json.gz',
        fileName: 'meta_Books.json.gz',
        sha256: null,
        checksumSource: UNVERIFIED,
      },
    ],
    get howToGet() {
      return `${commandLine('data', 'fetch prorl-release')} (the ProRL release files, 13 MB, with the paper's own test cases), or ${commandLine('data', 'fetch books --allow-unverified')} (no recorded checksum exists; the review file is very large), or pass --data-dir / PRORL_DATA_DIR pointing at a folder with Books.json.gz (or Books.csv) + meta_Books.json.gz, RecBole amazon-books.inter/.item, or the ProRL release.`;
    },
  },
};

/**
 * The official ProRL release's data files (the `datasets/` folder of the paper's public code),
 * pinned to one commit. Each SHA-256 was computed from a copy whose git blob ids match the tree of
 * that commit (`git ls-tree -r -l <commit> datasets/`). `npm run data -- fetch prorl-release` puts
 * them in `<cache>/raw/prorl-release/`, with the release's folders, where `loadDataset` finds them.
 */
export const PRORL_RELEASE = {
  repository: 'hongruhou89/ProRL',
  commit: '506e91355377f546dcf51f684fc871fe57a9d5c8',
  /** What `fetch` and `list` call it. */
  name: 'prorl-release',
} as const;

const RELEASE_FILES: readonly (readonly [path: string, size: number, sha256: string])[] = [
  ['ml-1m/ml-1m.val', 976885, '010f67346c379e4aab9f273be6d6ff8db8a6c784bd2893a223f9d81c68b26e2e'],
  ['ml-1m/ml-1m.test', 1066425, '918f5362b9f491d3cd77212c4eb4e5c270c710483478864ef1f59990260c1611'],
  ['ml-1m/ml-1m.datamaps', 552880, '75704eaf830f1015a41178e451856ae67a5a4a4f37775414c47de63396004872'],
  ['ml-1m/qwen3-embedding-8b-pca.sem_ids', 102369, '6947a3a5cb60a80628f152bc6ffbccd040019320951a510117fd327a628acfd7'],
  ['Steam/Steam.val', 1773765, 'b1d255ca8eb328e908dafa93b0cf61b6e3692f1ad75c9ef48fc650a8a459bf13'],
  ['Steam/Steam.test', 1997407, 'b8f9ef150b9679b333ba811fc6b42d0c4fe0a7b13168f7b673a9a9a2a2649e3d'],
  ['Steam/Steam.datamaps', 2612063, '3bb211d742933c8271b203e8495f295a36d40746253ed83dfb2aacb44536d8e5'],
  ['Steam/qwen3-embedding-8b-pca.sem_ids', 149864, '89bf156166209de4c31fb5d8fafcb4d552799ebac38cf384d888f285093053a5'],
  ['Books/Books.val', 1422594, '02934debd9bef2503fe5a21d59dbbaa29be5204dd245abe61623ff9d52ad893a'],
  ['Books/Books.test', 1374556, '5e35ec8d434a932a9571868f526cf9dfe0062f90f54a6a3e4d5da87926741d77'],
  ['Books/Books.datamaps', 794386, 'b121c954b3cf61d7bd86601d456ef306754dfb0d67222c5409540efdf3d00c0a'],
  ['Books/qwen3-embedding-8b-pca.sem_ids', 141106, '9a9fba8999876c6be7546d8348be7ccebfb11ec3b8fa2e0981893c208182101f'],
  ['ml-1m-sas/ml-1m-sas.item', 165633, '551521e379a85cc90d77740e6b1190fd463c4907b921e8a64a22fec4631924dc'],
  ['ml-1m-sas/ml-1m-sas.user', 110277, '941e5cd93faa9594121a0949acff5f9cf6497e62313f427a4bdafa50d832511e'],
  ['steam-merged/steam-merged.item', 186131, '1696f273b36b816d7853e22022e3ace0148d39ee4c52e93c920e54a3cbaf2c78'],
  ['amazon-books/amazon-books.item', 198515, '1f0a666374ee6d5891a0132b587086d4dd78255e9bb6fefa908c09bbb1a3ce96'],
];

export const PRORL_RELEASE_FILES: readonly FetchFile[] = RELEASE_FILES.map(([file, size, sha256]) => ({
  url: `https://raw.githubusercontent.com/${PRORL_RELEASE.repository}/${PRORL_RELEASE.commit}/datasets/${file}`,
  fileName: file,
  mirrorPath: file,
  sha256,
  size,
  checksumSource: `SHA-256 of datasets/${file} at ${PRORL_RELEASE.repository}@${PRORL_RELEASE.commit.slice(0, 12)} (a copy whose git blob id matches that commit's tree)`,
}));
