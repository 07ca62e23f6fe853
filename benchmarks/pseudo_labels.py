"""Pseudo labels on SynthAU: make them, score them, and check what `prepare` stored.

  # labels of a known quality: the true ones, each flipped with probability RATE
  python benchmarks/pseudo_labels.py flip --manifest data/synthau/wild/manifest.csv \
      --rate 0.1 --seed 0 --out runs/pseudo/flip10.csv
  # how good a pseudo-label CSV (e.g. `au-jax predict` output) is against the truth
  python benchmarks/pseudo_labels.py score --manifest data/synthau/wild/manifest.csv \
      --pseudo runs/pseudo/predicted.csv --out benchmarks/pseudo_label_quality.json --name model
  # every image prepare stored has exactly the CSV's labels
  python benchmarks/pseudo_labels.py roundtrip --pseudo runs/pseudo/predicted.csv \
      --prepared data/prepared/aligned_faces/synthau_wild_pseudo

Rows name images by their manifest path, so `prepare --pseudo-labels` matches them the
way it matches `au-jax predict` output. `score` and `roundtrip` print one JSON object.
"""

import argparse
import json
import os
import sys

import numpy as np


# pylint: disable=g-import-not-at-top,wrong-import-position
from au_jax import metrics
from data_pipelines import records as rec
from data_pipelines.readers import ReadOptions, get_reader, pseudo
from data_pipelines.synthau import dataset
from data_pipelines.synthau.labels import AUS


def _records(manifest, splits):
  """The manifest's records of `splits`, with their true labels. SynthAU leaves the wild
  train labels out of its manifest; they are drawn again from synthau.json's seed."""
  source = get_reader('manifest')([manifest], ReadOptions(need_landmarks=False))
  records = [r for r in source.records if r.split in splits]
  info_path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(manifest))),
                           'synthau.json')
  for split in splits:
    hidden = [r for r in records if r.split == split and not r.labels]
    if hidden and os.path.isfile(info_path):
      with open(info_path) as f:
        seed = json.load(f)['seed']
      index = [int(os.path.splitext(os.path.basename(r.source))[0]) for r in hidden]
      labels = dataset.hidden_labels(seed, split, max(index) + 1)
      for r, i in zip(hidden, index):
        r.labels = dict(zip(AUS, (int(v) for v in labels[i])))
  return records, source.au_ids


def flip(manifest, rate, seed, out, splits=('train',)):
  """Writes the true labels of `splits`, each flipped with probability `rate`."""
  records, au_ids = _records(manifest, splits)
  rng = np.random.default_rng(seed)
  os.makedirs(os.path.dirname(out) or '.', exist_ok=True)
  with open(out, 'w') as f:
    f.write(','.join(['file', 'success'] + [f'AU{a:02d}_c' for a in au_ids]) + '\n')
    for r in records:
      labels = [r.labels[a] ^ int(rng.random() < rate) for a in au_ids]
      f.write(','.join([r.source, '1'] + [str(v) for v in labels]) + '\n')
  return out


def score(manifest, pseudo_path, splits=('train',)):
  """Coverage, per-AU F1 / accuracy (%) of pseudo labels against the truth
  (au_jax.metrics.au_scores), and how often they say present against how often the AU
  is (%, over the labelled images)."""
  records, au_ids = _records(manifest, splits)
  matched = pseudo.attach(records, pseudo.read_pseudo_labels(pseudo_path))
  guess = np.array([[r.pseudo.get(a, 0) for a in au_ids] for r in records])
  mask = np.array([[a in r.pseudo for a in au_ids] for r in records])
  truth = np.array([[r.labels[a] for a in au_ids] for r in records])
  scores = metrics.au_scores(guess, truth, mask)
  pct = lambda v: round(100 * float(v), 1)
  out = {'images': len(records), 'labelled': matched, 'f1': {}, 'accuracy': {},
         'positive_rate': {}, 'true_rate': {}}
  for k, a in enumerate(au_ids):
    if not scores['count'][k]:
      continue
    labelled = mask[:, k]
    out['f1'][f'AU{a}'] = pct(scores['f1'][k])
    out['accuracy'][f'AU{a}'] = pct(scores['accuracy'][k])
    out['positive_rate'][f'AU{a}'] = pct(guess[labelled, k].mean())
    out['true_rate'][f'AU{a}'] = pct(truth[labelled, k].mean())
  out['f1_mean'] = round(float(np.mean(list(out['f1'].values()))), 1)
  return out


def record(path, name, entry):
  """Adds `entry` to the JSON file `path` under `name` (other entries kept)."""
  entries = {}
  if os.path.isfile(path):
    with open(path, encoding='utf-8') as f:
      entries = json.load(f)
  entries[name] = entry
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(entries, f, indent=1)
    f.write('\n')


def roundtrip(pseudo_path, prepared, split='train'):
  """Compares prepare's stored pseudo labels with the CSV, image by image."""
  import tensorflow_datasets as tfds
  if not os.path.isdir(prepared) or not os.listdir(prepared):
    raise SystemExit(f'{prepared}: no prepared data set (DATA_DIR/aligned_faces/NAME)')
  version = sorted(os.listdir(prepared))[-1]
  builder = tfds.builder_from_directory(os.path.join(prepared, version))
  au_ids = builder.info.metadata['au_ids']
  examples = list(tfds.as_numpy(builder.as_dataset(split=split)))
  stored = [rec.Record(key=str(i), source=ex['source'].decode(), image_path='')
            for i, ex in enumerate(examples)]
  table = pseudo.read_pseudo_labels(pseudo_path)
  pseudo.attach(stored, table)  # as prepare matched them, once for every image
  mismatched, labelled = [], 0
  for record, ex in zip(stored, examples):
    want = [record.pseudo.get(a) for a in au_ids]
    got = [int(v) if m else None for v, m in zip(ex['pseudo_au'], ex['pseudo_mask'])]
    labelled += any(v is not None for v in got)
    if want != got:
      mismatched.append(record.source)
  return {'stored': len(stored), 'with_pseudo_labels': labelled, 'csv_rows': len(table),
          'mismatched': len(mismatched), 'first_mismatches': mismatched[:5]}


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = p.add_subparsers(dest='command', required=True)
  f = sub.add_parser('flip')
  f.add_argument('--manifest', required=True)
  f.add_argument('--rate', type=float, required=True)
  f.add_argument('--seed', type=int, default=0)
  f.add_argument('--out', required=True)
  s = sub.add_parser('score')
  s.add_argument('--manifest', required=True)
  s.add_argument('--pseudo', required=True)
  s.add_argument('--out', help='also record it in this JSON file, under --name')
  s.add_argument('--name', help='the entry of --out (default: the CSV file name)')
  r = sub.add_parser('roundtrip')
  r.add_argument('--pseudo', required=True)
  r.add_argument('--prepared', required=True)
  args = p.parse_args()
  if args.command == 'flip':
    print(flip(args.manifest, args.rate, args.seed, args.out))
  elif args.command == 'score':
    result = score(args.manifest, args.pseudo)
    print(json.dumps(result))
    if args.out:
      record(args.out, args.name or os.path.basename(args.pseudo), result)
  else:
    result = roundtrip(args.pseudo, args.prepared)
    print(json.dumps(result))
    return int(result['mismatched'] > 0)
  return 0


if __name__ == '__main__':
  sys.exit(main())
