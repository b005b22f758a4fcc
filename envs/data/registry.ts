/**
 * The three real datasets: their names, where each source format keeps them, and the public files
 * `fetch` downloads. Checksums are recorded here; see `FetchFile.sha256` for where each came from.
 */

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

const TFDS = 'TensorFlow Datasets url_checksums/movielens.txt (size 5917549); the same value is pinned in several independent public projects; MD5 matches GroupLens\' published ml-1m.zip.md5';
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
    howToGet: 'npm run data -- fetch ml-1m (downloads the GroupLens archive), or pass --data-dir / PRORL_DATA_DIR pointing at a folder with ratings.dat and movies.dat, RecBole ml-1m-sas.inter/.item, or the ProRL release.',
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
    howToGet: 'npm run data -- fetch steam --allow-unverified (no recorded checksum exists), or pass --data-dir / PRORL_DATA_DIR pointing at a folder with steam_reviews.json.gz (+ steam_games.json.gz), RecBole steam-merged.inter/.item, or the ProRL release.',
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
    howToGet: 'npm run data -- fetch books --allow-unverified (no recorded checksum exists; the review file is very large), or pass --data-dir / PRORL_DATA_DIR pointing at a folder with Books.json.gz (or Books.csv) + meta_Books.json.gz, RecBole amazon-books.inter/.item, or the ProRL release.',
  },
};
