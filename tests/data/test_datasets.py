"""torch Datasets: the item contract, per-subject batches, the paper's train/validation split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from neuro_igc.data import (
    DecodingDataset,
    EncodingDataset,
    SubjectBatchSampler,
    decoding_datasets,
    encoding_datasets,
    image_statistics,
)


def _check_item(item, n_x, n_y, subject=None):
    if subject is None:
        assert len(item) == 2
    else:
        assert len(item) == 3
        s = item[2]
        assert isinstance(s, torch.Tensor) and s.dtype == torch.long and s.ndim == 0 and int(s) == subject
    x, y = item[:2]
    assert x.dtype == torch.float32 and y.dtype == torch.float32
    assert tuple(x.shape) == n_x and tuple(y.shape) == n_y


def test_decoding_item_contract():
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((5, 7)), rng.standard_normal((3, 4))]
    ys = [rng.standard_normal((5, 2)), rng.standard_normal((3, 2))]
    ds = DecodingDataset(xs, ys, subjects=[1, 5], target_names=["a", "b"])
    assert len(ds) == 8 and ds.n_features_per_subject == [7, 4] and ds.n_outputs == 2 and ds.subjects == [1, 5]
    np.testing.assert_array_equal(ds.subject_index, [0] * 5 + [1] * 3)
    assert ds.subject_index.dtype == np.int64
    _check_item(ds[0], (7,), (2,), 0)
    _check_item(ds[6], (4,), (2,), 1)
    np.testing.assert_allclose(ds[6][0].numpy(), xs[1][1].astype(np.float32))
    np.testing.assert_allclose(ds[6][1].numpy(), ys[1][1].astype(np.float32))
    single = DecodingDataset(xs[0], ys[0][:, 0])
    _check_item(single[2], (7,), (1,))
    _check_item(DecodingDataset(xs[0], ys[0], with_subject=True)[1], (7,), (2,), 0)
    with pytest.raises(ValueError, match="subject 1 has 3 rows in 'x' but 2 in 'y'"):
        DecodingDataset(xs, [ys[0], ys[1][:2]])
    with pytest.raises(ValueError, match="same outputs"):
        DecodingDataset(xs, [ys[0], ys[1][:, :1]])
    with pytest.raises(ValueError, match="one array per subject"):
        DecodingDataset(xs, ys[:1])


def test_encoding_item_contract_pool_and_augment():
    rng = np.random.default_rng(1)
    imgs = rng.random((4, 8, 8)).astype(np.float32)
    ds = EncodingDataset(imgs, [np.array([0, 3, 3]), np.array([1])], [np.zeros((3, 6)), np.ones((1, 2))],
                         pool=2, image_stats=False)
    assert ds.input_shape == (1, 4, 4) and ds.n_features_per_subject == [6, 2]
    _check_item(ds[1], (1, 4, 4), (6,), 0)
    _check_item(ds[3], (1, 4, 4), (2,), 1)
    blocks = imgs[3].reshape(4, 2, 4, 2)
    np.testing.assert_allclose(ds[1][0][0].numpy(), blocks.mean((1, 3)), rtol=1e-6)
    ds.augment = True
    for _ in range(5):
        x = ds[1][0][0].numpy()
        assert np.all(np.any(np.isclose(x[:, None, :, None], blocks), axis=(1, 3)))
    std = EncodingDataset(imgs, [np.arange(4)], [np.zeros((4, 1))])
    allx = torch.stack([std[i][0] for i in range(4)])
    assert abs(float(allx.mean())) < 1e-5 and abs(float(allx.std(unbiased=False)) - 1) < 1e-4
    again = EncodingDataset(imgs, [np.arange(4)], [np.zeros((4, 1))], image_stats=std.image_stats)
    torch.testing.assert_close(again[2][0], std[2][0])
    with pytest.raises(ValueError, match="Invalid value for 'pool'"):
        EncodingDataset(imgs, [np.arange(4)], [np.zeros((4, 1))], pool=3)
    with pytest.raises(ValueError, match="rows must be in 0..3"):
        EncodingDataset(imgs, [np.array([4])], [np.zeros((1, 1))])


def test_subject_batches_cover_everything_once():
    subject_index = np.repeat([0, 1, 2], [7, 3, 5])
    sampler = SubjectBatchSampler(subject_index, batch_size=3, seed=4)
    seen = []
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3 + 1 + 2
    for b in batches:
        assert len(set(subject_index[b])) == 1
        seen += b
    assert sorted(seen) == list(range(15))
    assert list(sampler) != batches  # a new order each epoch
    sampler.set_epoch(0)
    assert list(sampler) == batches
    assert all(len(b) == 3 for b in SubjectBatchSampler(subject_index, 3, drop_last=True))
    xs = [np.zeros((7, 2)), np.zeros((3, 5)), np.zeros((5, 1))]
    ds = DecodingDataset(xs, [np.zeros((n, 1)) for n in (7, 3, 5)])
    for x, y, s in DataLoader(ds, batch_sampler=SubjectBatchSampler(ds.subject_index, 4)):
        assert x.shape[1] == ds.n_features_per_subject[int(s[0])] and torch.all(s == s[0])
    with pytest.raises(ValueError, match="batch_size"):
        SubjectBatchSampler(subject_index, 0)


def test_paper_splits_on_the_synthetic_folder(tiny_nsd):
    train, val = decoding_datasets(tiny_nsd, [1, 2], roi="nsdgeneral")
    assert train.subjects == [1, 2] and train.n_outputs == 2
    assert not np.isin(train.image_ids, tiny_nsd.shared_ids).any()
    assert np.isin(val.image_ids, tiny_nsd.shared_ids).all()
    assert len(val) == 2 * 8 and len(train) == 2 * (80 - 24)
    stats = image_statistics(tiny_nsd.stimuli(val.image_ids, luminance=True))
    np.testing.assert_allclose(torch.stack([val[i][1] for i in range(len(val))]).numpy(), stats.to_numpy(), rtol=1e-5)
    _check_item(train[0], (train.n_features_per_subject[0],), (2,), 0)
    etrain, eval_ = encoding_datasets(tiny_nsd, [1], roi=("prf-visualrois", ["V1v", "V1d"]), size=16, augment=True)
    assert etrain.pool == 2 and eval_.pool == 1 and eval_.image_stats == etrain.image_stats
    _check_item(etrain[0], (1, 16, 16), (etrain.n_features_per_subject[0],))
    _check_item(eval_[0], (1, 16, 16), (etrain.n_features_per_subject[0],))
