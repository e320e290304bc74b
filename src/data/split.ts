/**
 * Seeded train/validation/test splits as index views, and normalization statistics.
 *
 * `split(dataset, { seed, fractions })`: groups of samples (by default each sample alone; for
 * datasets with `duplicateOf`, e.g. Fashion-MNIST, each set of exact duplicate images) are
 * shuffled by a Fisher–Yates permutation driven by the Threefry key `foldIn(makeKey(seed), 0x5b1)`
 * and dealt in that order: to train until it holds round(train·n) samples, then to validation
 * until it holds round((train + validation)·n) − |train|, the rest to test. Without groups the
 * sizes are exact; with groups a split may exceed its share by (group size − 1). Duplicates
 * are KEPT (not removed) and always land in the same split, so no image is in both train and
 * test. Each split's indices are sorted ascending; the views keep the original stable ids.
 */
import { ValueError } from '../tensor/errors.js';
import { foldIn, makeKey, randomBits, uniform53, type Key } from '../tensor/random.js';
import type { Dataset, Sample } from './dataset.js';

/** A Dataset over a subset of another one's indices (stable ids unchanged). */
export class SubsetDataset implements Dataset {
  /** Number of samples in the view (= indices.length). */
  readonly length: number;
  /** The base dataset's sample shape. */
  readonly sampleShape: readonly number[];
  /** The base dataset's number of classes. */
  readonly classes: number;

  /** Throws ValueError when an index lies outside [0, base.length). Nothing is copied. */
  constructor(
    /** The dataset the view reads from. */
    readonly base: Dataset,
    /** Position in `base` of each sample of the view, in view order (repeats allowed). */
    readonly indices: Int32Array,
    /** Name used in messages; default `<base.name>[subset]` (split() uses `<base.name>/train` etc.). */
    readonly name: string = `${base.name}[subset]`,
  ) {
    this.length = indices.length;
    this.sampleShape = base.sampleShape;
    this.classes = base.classes;
    for (const i of indices) {
      if (i < 0 || i >= base.length) throw new ValueError(`SubsetDataset: index ${i} out of range [0, ${base.length})`);
    }
  }

  /**
   * The base sample at `indices[index]`, id unchanged. Throws ValueError unless index is an
   * integer in [0, length).
   */
  get(index: number): Sample {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new ValueError(`${this.name}.get: index ${index} out of range [0, ${this.length})`);
    }
    return this.base.get(this.indices[index]!);
  }
}

/** A view of `dataset` over `indices` (positions in `dataset`). */
export function subset(dataset: Dataset, indices: ArrayLike<number>, name?: string): SubsetDataset {
  return new SubsetDataset(dataset, Int32Array.from(indices as ArrayLike<number>), name);
}

/**
 * Target fractions of the samples in each split, each in [0, 1] and summing to 1 (within
 * 1e-9); a missing one counts as 0.
 */
export interface SplitFractions {
  /** Fraction for training: the train split receives round(train·n) samples (more when a group overflows). */
  train: number;
  /** Fraction for validation (default 0). */
  validation?: number;
  /** Fraction for test (default 0); test receives whatever train and validation leave. */
  test?: number;
}

/** Options of {@link split}. */
export interface SplitOptions {
  /** Integer seed in [0, 2^53). */
  seed: number;
  /** Fractions of the samples; must sum to 1 (missing ones count as 0). */
  fractions: SplitFractions;
  /**
   * Group of each position: samples with the same group go to the same split. Default: the
   * dataset's `duplicateOf` array when it has one (exact duplicates together), else none.
   */
  groups?: ArrayLike<number>;
}

/**
 * The three disjoint views {@link split} returns; together they cover every sample once. A
 * split with fraction 0 is an empty view.
 */
export interface Splits {
  /** Training samples, indices ascending, named `<dataset>/train`. */
  train: SubsetDataset;
  /** Validation samples, indices ascending, named `<dataset>/validation`. */
  validation: SubsetDataset;
  /** Test samples, indices ascending, named `<dataset>/test`. */
  test: SubsetDataset;
}

/** Fisher–Yates permutation of 0 … n−1 driven by `key` (element i draws from randomBits(key, i)). */
export function keyedPermutation(n: number, key: Key): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const [w0, w1] = randomBits(key, i);
    const j = Math.floor(uniform53(w0, w1) * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/**
 * Seeded train/validation/test index views: groups (exact duplicates by default) are
 * shuffled with a keyed Fisher–Yates permutation and dealt to train, then validation, then
 * test, so the same seed always gives the same split. Throws ValueError when a fraction is
 * outside [0, 1], the fractions do not sum to 1, or `groups` has the wrong length. The
 * module comment at the top of split.ts gives the exact rule.
 */
export function split(dataset: Dataset, options: SplitOptions): Splits {
  const { seed } = options;
  const train = options.fractions.train;
  const validation = options.fractions.validation ?? 0;
  const test = options.fractions.test ?? 0;
  for (const [k, f] of [['train', train], ['validation', validation], ['test', test]] as const) {
    if (!(f >= 0 && f <= 1)) throw new ValueError(`split: fraction ${k} must be in [0, 1]; got ${f}`);
  }
  if (Math.abs(train + validation + test - 1) > 1e-9) {
    throw new ValueError(`split: fractions must sum to 1; got ${train} + ${validation} + ${test}`);
  }
  const n = dataset.length;
  const groups = options.groups ?? (dataset as { duplicateOf?: ArrayLike<number> }).duplicateOf;
  if (groups && groups.length !== n) throw new ValueError(`split: groups has ${groups.length} entries, dataset has ${n}`);
  // Members of each group, in order of first appearance.
  const members: number[][] = [];
  if (groups) {
    const slot = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const g = groups[i]!;
      let s = slot.get(g);
      if (s === undefined) {
        s = members.length;
        slot.set(g, s);
        members.push([]);
      }
      members[s]!.push(i);
    }
  } else {
    for (let i = 0; i < n; i++) members.push([i]);
  }
  const order = keyedPermutation(members.length, foldIn(makeKey(seed), 0x5b1));
  const nTrain = Math.round(train * n);
  const nTrainVal = Math.round((train + validation) * n);
  const parts: number[][] = [[], [], []];
  for (const s of order) {
    const m = members[s]!;
    const dest = parts[0]!.length < nTrain ? 0 : parts[0]!.length + parts[1]!.length < nTrainVal ? 1 : 2;
    parts[dest]!.push(...m);
  }
  const view = (p: number[], tag: string): SubsetDataset =>
    new SubsetDataset(dataset, Int32Array.from(p).sort(), `${dataset.name}/${tag}`);
  return { train: view(parts[0]!, 'train'), validation: view(parts[1]!, 'validation'), test: view(parts[2]!, 'test') };
}

/** Per-channel mean and std (population std) of a dataset's features. */
export interface NormalizationStats {
  /** One entry per channel (channel = first axis of sampleShape when it has ≥ 2 axes, else one channel). */
  mean: number[];
  /** Population standard deviation per channel, same layout as `mean`; normalize() needs every entry > 0. */
  std: number[];
}

function channelsOf(shape: readonly number[]): number {
  return shape.length >= 2 ? shape[0]! : 1;
}

/** Mean and std per channel over every sample of `dataset` (compute it on the TRAIN split only). */
export function normalizationStats(dataset: Dataset): NormalizationStats {
  const c = channelsOf(dataset.sampleShape);
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  let per = 0;
  // Two passes would be more accurate; float64 sums of values in a bounded range are enough here,
  // and we subtract a per-channel shift (first sample's mean) to limit cancellation.
  const shift = new Float64Array(c);
  for (let i = 0; i < dataset.length; i++) {
    const { x } = dataset.get(i);
    per = x.length / c;
    if (i === 0) for (let ch = 0; ch < c; ch++) { let s = 0; for (let k = 0; k < per; k++) s += x[ch * per + k]!; shift[ch] = s / per; }
    for (let ch = 0; ch < c; ch++) {
      for (let k = 0; k < per; k++) {
        const v = x[ch * per + k]! - shift[ch]!;
        sum[ch]! += v;
        sumSq[ch]! += v * v;
      }
    }
  }
  const count = dataset.length * per;
  if (count === 0) throw new ValueError('normalizationStats: empty dataset');
  const mean: number[] = [];
  const std: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const m = sum[ch]! / count;
    mean.push(m + shift[ch]!);
    std.push(Math.sqrt(Math.max(0, sumSq[ch]! / count - m * m)));
  }
  return { mean, std };
}

/** A view of `dataset` whose features are (x − mean) / std per channel (float32 out). */
export class NormalizedDataset implements Dataset {
  /** `<base.name>(normalized)`. */
  readonly name: string;
  /** The base dataset's length. */
  readonly length: number;
  /** The base dataset's sample shape. */
  readonly sampleShape: readonly number[];
  /** The base dataset's number of classes. */
  readonly classes: number;

  /**
   * Throws ValueError when `stats` does not have one mean and one std per channel of the
   * base's sampleShape, or when a std is not > 0.
   */
  constructor(
    /** The dataset whose samples are normalized on the fly (nothing is precomputed). */
    readonly base: Dataset,
    /** The per-channel mean and std subtracted and divided by. */
    readonly stats: NormalizationStats,
  ) {
    this.name = `${base.name}(normalized)`;
    this.length = base.length;
    this.sampleShape = base.sampleShape;
    this.classes = base.classes;
    if (stats.mean.length !== channelsOf(base.sampleShape) || stats.std.length !== stats.mean.length) {
      throw new ValueError(`normalize: stats have ${stats.mean.length} channels, dataset has ${channelsOf(base.sampleShape)}`);
    }
    if (stats.std.some((s) => !(s > 0))) throw new ValueError(`normalize: every std must be > 0; got ${stats.std.join(', ')}`);
  }

  /**
   * The base sample with each channel mapped to (x − mean) / std, as a fresh float32 array;
   * target and id unchanged. The index is checked by the base.
   */
  get(index: number): Sample {
    const s = this.base.get(index);
    const c = this.stats.mean.length;
    const per = s.x.length / c;
    const x = new Float32Array(s.x.length);
    for (let ch = 0; ch < c; ch++) {
      const m = this.stats.mean[ch]!;
      const inv = 1 / this.stats.std[ch]!;
      for (let k = 0; k < per; k++) x[ch * per + k] = (s.x[ch * per + k]! - m) * inv;
    }
    return { x, y: s.y, id: s.id };
  }
}

/** Normalize `dataset` with statistics (typically `normalizationStats(splits.train)`). */
export function normalize(dataset: Dataset, stats: NormalizationStats): NormalizedDataset {
  return new NormalizedDataset(dataset, stats);
}
