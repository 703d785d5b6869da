"""ImageDataGenerator: statistics, standardize, flows, seeds, iterators and bad input."""

import threading
from collections import Counter

import numpy as np
import pytest

from lamella.preproc import image, pictures
from lamella.preproc.image import ImageDataGenerator, Iterator

AUGMENTING = dict(
    rotation_range=30,
    width_shift_range=0.2,
    height_shift_range=0.2,
    shear_range=0.3,
    zoom_range=0.2,
    channel_shift_range=0.1,
    horizontal_flip=True,
    vertical_flip=True,
    fill_mode="reflect",
)


def channel_axis(dim_ordering):
    return 1 if dim_ordering == "th" else 3


def dataset(dim_ordering, n=64, size=6, seed=0):
    """Images whose three channels have very different means and spreads."""
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n, 3, size, size)) * np.array([1.0, 5.0, 0.2])[:, None, None]
    x += np.array([10.0, -3.0, 100.0])[:, None, None]
    x = x.astype(np.float32)
    return x if dim_ordering == "th" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("dim_ordering", ["th", "tf"])
def test_featurewise_statistics_give_zero_mean_unit_std_per_channel(dim_ordering):
    x = dataset(dim_ordering)
    generator = ImageDataGenerator(
        featurewise_center=True, featurewise_std_normalization=True, dim_ordering=dim_ordering
    )
    generator.fit(x)
    axes = tuple(a for a in range(4) if a != channel_axis(dim_ordering))
    np.testing.assert_allclose(
        generator.mean.ravel(), x.mean(axis=axes, dtype=np.float64), rtol=1e-5
    )
    out = np.stack([generator.standardize(img) for img in x])
    np.testing.assert_allclose(out.mean(axis=axes), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=axes), 1.0, atol=1e-4)
    batch = next(generator.flow(x, batch_size=len(x), shuffle=False))
    np.testing.assert_allclose(batch, out, atol=1e-6)


def test_zca_whitening_decorrelates_and_matches_an_svd_reference():
    rng = np.random.RandomState(1)
    n, shape = 2000, (3, 2, 2)
    mixing = rng.normal(size=(12, 12))
    flat = rng.normal(size=(n, 12)) @ mixing + 5.0
    x = flat.reshape((n, *shape)).astype(np.float32)
    generator = ImageDataGenerator(featurewise_center=True, zca_whitening=True, dim_ordering="th")
    generator.fit(x)

    centred = x.reshape(n, -1).astype(np.float64) - x.mean(axis=(0, 2, 3)).repeat(4)
    u, s, _ = np.linalg.svd(centred.T @ centred / n)
    reference = u @ np.diag(1.0 / np.sqrt(s + 1e-6)) @ u.T
    np.testing.assert_allclose(generator.principal_components, reference, rtol=1e-3, atol=1e-4)

    white = next(generator.flow(x, batch_size=n, shuffle=False)).reshape(n, -1)
    np.testing.assert_allclose(white.T @ white / n, np.eye(12), atol=2e-3)


def test_zca_refuses_a_covariance_over_the_limit_before_working():
    generator = ImageDataGenerator(zca_whitening=True, dim_ordering="th")
    with pytest.raises(ValueError, match=r"ImageDataGenerator.fit: zca_whitening .*GiB"):
        generator.fit(np.zeros((2, 3, 128, 128), dtype=np.float32))


def test_samplewise_normalisation_is_over_the_channel_axis_as_in_keras1():
    x = dataset("tf", n=2)
    generator = ImageDataGenerator(
        samplewise_center=True, samplewise_std_normalization=True, dim_ordering="tf"
    )
    out = generator.standardize(x[0])
    centred = x[0] - x[0].mean(axis=2, keepdims=True)
    np.testing.assert_allclose(
        out, centred / (centred.std(axis=2, keepdims=True) + 1e-7), rtol=1e-5
    )


def test_preprocessing_function_runs_before_rescale():
    generator = ImageDataGenerator(
        preprocessing_function=lambda img: img + 1.0, rescale=2.0, dim_ordering="th"
    )
    x = np.full((1, 2, 2), 3.0)
    np.testing.assert_array_equal(generator.standardize(x), np.full((1, 2, 2), 8.0))
    assert x[0, 0, 0] == 3.0  # the caller's array is left alone


def test_unfit_featurewise_options_warn_and_pass_data_through():
    generator = ImageDataGenerator(featurewise_center=True, dim_ordering="th")
    x = np.ones((1, 2, 2))
    with pytest.warns(UserWarning, match="featurewise_center .* never fit"):
        np.testing.assert_array_equal(generator.standardize(x), x)


@pytest.mark.parametrize(
    ("dim_ordering", "shape"), [("th", (10, 3, 7, 5)), ("tf", (10, 7, 5, 3)), ("tf", (10, 4, 4, 1))]
)
def test_flow_batches_have_the_right_shapes_dtypes_and_last_partial_batch(dim_ordering, shape):
    x = np.random.RandomState(0).randint(0, 255, shape).astype(np.uint8)
    y = np.arange(10)
    flow = ImageDataGenerator(dim_ordering=dim_ordering, **AUGMENTING).flow(x, y, batch_size=4)
    sizes = []
    for _ in range(4):
        bx, by = next(flow)
        assert bx.dtype == np.float32 and bx.shape[1:] == shape[1:]
        sizes.append(len(bx))
        assert len(by) == len(bx)
    assert sizes == [4, 4, 2, 4]
    only_x = next(ImageDataGenerator(dim_ordering=dim_ordering).flow(x, batch_size=3))
    assert isinstance(only_x, np.ndarray) and only_x.shape == (3, *shape[1:])


def test_without_augmentation_a_flow_returns_the_data_and_labels_it_was_given():
    x = dataset("th", n=5)
    y = np.arange(5) * 10
    flow = ImageDataGenerator(dim_ordering="th").flow(x, y, batch_size=5, shuffle=True, seed=2)
    bx, by = next(flow)
    np.testing.assert_array_equal(bx, x[by // 10])
    assert sorted(by) == list(y)


def test_seeded_flows_repeat_exactly_and_leave_the_global_generator_alone():
    x = dataset("tf", n=20)
    generator = ImageDataGenerator(dim_ordering="tf", **AUGMENTING)

    def run(seed):
        flow = generator.flow(x, np.arange(20), batch_size=8, seed=seed)
        return [next(flow) for _ in range(4)]

    np.random.seed(123)
    first = run(7)
    after_run = np.random.random_sample()
    np.random.seed(123)
    second = run(7)
    assert np.random.random_sample() == after_run
    for (ax, ay), (bx, by) in zip(first, second, strict=True):
        np.testing.assert_array_equal(ax, bx)
        np.testing.assert_array_equal(ay, by)
    other = run(8)
    assert not np.array_equal(first[0][0], other[0][0])


def test_unseeded_flows_follow_numpy_global_seed_like_keras():
    x = dataset("th", n=6)
    generator = ImageDataGenerator(dim_ordering="th", **AUGMENTING)
    np.random.seed(9)
    a = next(generator.flow(x, batch_size=6))
    np.random.seed(9)
    b = next(generator.flow(x, batch_size=6))
    np.testing.assert_array_equal(a, b)


def test_fit_with_augment_is_seeded_and_uses_rounds():
    x = dataset("th", n=8)
    means = []
    for _ in range(2):
        generator = ImageDataGenerator(featurewise_center=True, dim_ordering="th", **AUGMENTING)
        generator.fit(x, augment=True, rounds=3, seed=4)
        means.append(generator.mean)
    np.testing.assert_array_equal(means[0], means[1])
    assert means[0].shape == (3, 1, 1)


def test_iterator_epochs_cover_every_index_once_and_reshuffle():
    it = Iterator(10, 4, shuffle=True, seed=0)
    epochs = [np.concatenate([next(it) for _ in range(3)]) for _ in range(2)]
    for epoch in epochs:
        assert sorted(epoch) == list(range(10))
    assert not np.array_equal(epochs[0], epochs[1])
    ordered = Iterator(5, 2, shuffle=False, seed=None)
    assert [list(next(ordered)) for _ in range(4)] == [[0, 1], [2, 3], [4], [0, 1]]
    next(ordered)
    ordered.reset()
    assert list(next(ordered)) == [0, 1]


def test_iterator_is_thread_safe():
    it = Iterator(100, 10, shuffle=True, seed=3)
    seen = Counter()
    lock = threading.Lock()

    def pull():
        for _ in range(25):
            batch = next(it)
            with lock:
                seen.update(batch.tolist())

    threads = [threading.Thread(target=pull) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == Counter({i: 10 for i in range(100)})  # exactly ten whole epochs


def test_default_dim_ordering_comes_from_the_config(monkeypatch):
    monkeypatch.setattr(pictures, "image_dim_ordering", lambda: "tf")
    assert ImageDataGenerator().channel_index == 3
    monkeypatch.setattr(pictures, "image_dim_ordering", lambda: "th")
    assert ImageDataGenerator().channel_index == 1


@pytest.mark.parametrize(("zoom_range", "pair"), [(0.25, [0.75, 1.25]), ((0.5, 2), [0.5, 2.0])])
def test_zoom_range_forms(zoom_range, pair):
    assert ImageDataGenerator(zoom_range=zoom_range, dim_ordering="th").zoom_range == pair


def test_zca_limit_is_a_module_setting(monkeypatch):
    monkeypatch.setattr(image, "ZCA_MAX_BYTES", 100)
    generator = ImageDataGenerator(zca_whitening=True, dim_ordering="th")
    with pytest.raises(ValueError, match="12x12"):
        generator.fit(np.zeros((2, 3, 2, 2)))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda g: ImageDataGenerator(dim_ordering="nhwc"), ValueError, "dim_ordering"),
        (lambda g: ImageDataGenerator(fill_mode="mirror"), ValueError, "fill_mode"),
        (lambda g: ImageDataGenerator(zoom_range=(1, 2, 3)), ValueError, "zoom_range"),
        (lambda g: g.flow(np.zeros((4, 3, 3))), ValueError, "rank-4"),
        (lambda g: g.flow(np.zeros((4, 2, 3, 3))), ValueError, "1, 3 or 4 channels"),
        (lambda g: g.flow(np.zeros((4, 1, 3, 3)), np.zeros(3)), ValueError, "same number"),
        (lambda g: g.flow(np.zeros((4, 1, 3, 3)), batch_size=0), ValueError, "batch_size"),
        (lambda g: g.fit(np.zeros((4, 3, 3))), ValueError, "fit: X must be a rank-4"),
        (lambda g: g.fit(np.zeros((4, 5, 3, 3))), ValueError, "fit: X must have 1, 3 or 4"),
        (lambda g: g.fit(np.zeros((4, 1, 3, 3)), rounds=0), ValueError, "rounds"),
        (lambda g: g.standardize(np.zeros((4, 1, 3, 3))), ValueError, "standardize: x must be"),
        (lambda g: g.random_transform(np.zeros((3, 3))), ValueError, "random_transform"),
        (lambda g: g.random_transform(np.zeros((2, 3, 3))), ValueError, "1, 3 or 4 channels"),
    ],
)
def test_bad_input_errors_name_the_function_and_argument(call, error, message):
    with pytest.raises(error, match=message):
        call(ImageDataGenerator(dim_ordering="th"))
